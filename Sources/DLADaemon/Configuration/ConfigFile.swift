/// The subset of TOML that dlad's configuration uses: `key = value` lines, `[table]` headers,
/// `#` comments, basic strings ("…" with \" \\ \n \t escapes), literal strings ('…'), integers
/// (with `_` separators), booleans and arrays of strings. Keys are returned dotted
/// (`retention.max_rows`).
///
/// TOMLKit, the TOML package in this machine's mirror, depends on a test package the mirror does
/// not carry, so it cannot be resolved here; a configuration needs no more than this.
public struct ConfigFile: Sendable, Equatable {
    public enum Value: Sendable, Equatable, CustomStringConvertible {
        case string(String)
        case integer(Int)
        case boolean(Bool)
        case strings([String])

        public var description: String {
            switch self {
            case .string(let text): "\"\(text)\""
            case .integer(let value): String(value)
            case .boolean(let value): String(value)
            case .strings(let values): "[" + values.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
            }
        }
    }

    /// Each key with its value and the line it was set on.
    public private(set) var entries: [String: (value: Value, line: Int)] = [:]

    public static func == (lhs: ConfigFile, rhs: ConfigFile) -> Bool {
        lhs.entries.count == rhs.entries.count && lhs.entries.allSatisfy { key, entry in rhs.entries[key]?.value == entry.value }
    }

    public init(entries: [String: Value] = [:]) {
        for (key, value) in entries { self.entries[key] = (value, 0) }
    }

    public subscript(key: String) -> Value? { entries[key]?.value }

    public init(parsing text: String, path: String) throws(ConfigError) {
        var table = ""
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            var scanner = LineScanner(Array(rawLine.utf8), path: path, line: number)
            scanner.skipSpaces()
            if scanner.atEndOrComment { continue }
            if scanner.peek == UInt8(ascii: "[") {
                scanner.advance()
                let name = try scanner.key()
                try scanner.expect(UInt8(ascii: "]"))
                scanner.skipSpaces()
                guard scanner.atEndOrComment else { throw scanner.error("unexpected text after the table header") }
                table = name
                continue
            }
            let key = try scanner.key()
            scanner.skipSpaces()
            try scanner.expect(UInt8(ascii: "="))
            scanner.skipSpaces()
            let value = try scanner.value()
            scanner.skipSpaces()
            guard scanner.atEndOrComment else { throw scanner.error("unexpected text after the value") }
            let fullKey = table.isEmpty ? key : table + "." + key
            if let previous = entries[fullKey] {
                throw ConfigError(path: path, line: number, "'\(fullKey)' is already set on line \(previous.line)")
            }
            entries[fullKey] = (value, number)
        }
    }

    /// The line a key was set on (0 for keys not from a file).
    public func line(of key: String) -> Int { entries[key]?.line ?? 0 }

    private struct LineScanner {
        let bytes: [UInt8]
        let path: String
        let line: Int
        var position = 0

        init(_ bytes: [UInt8], path: String, line: Int) {
            // A CRLF file's lines end in \r.
            self.bytes = bytes.last == 0x0D ? Array(bytes.dropLast()) : bytes
            self.path = path
            self.line = line
        }

        var peek: UInt8? { position < bytes.count ? bytes[position] : nil }
        var atEndOrComment: Bool { peek == nil || peek == UInt8(ascii: "#") }
        mutating func advance() { position += 1 }

        func error(_ message: String) -> ConfigError { ConfigError(path: path, line: line, column: position + 1, message) }

        mutating func skipSpaces() {
            while let byte = peek, byte == 0x20 || byte == 0x09 { position += 1 }
        }

        mutating func expect(_ byte: UInt8) throws(ConfigError) {
            guard peek == byte else { throw error("expected '\(Character(UnicodeScalar(byte)))'") }
            position += 1
        }

        /// A bare or dotted key (`a`, `a.b`, `a_b-c`).
        mutating func key() throws(ConfigError) -> String {
            skipSpaces()
            let start = position
            while let byte = peek, Self.isKeyByte(byte) { position += 1 }
            guard position > start else { throw error("expected a key (letters, digits, '_', '-', '.')") }
            let key = String(decoding: bytes[start..<position], as: UTF8.self)
            guard !key.hasPrefix("."), !key.hasSuffix("."), !key.contains("..") else { throw error("malformed dotted key '\(key)'") }
            skipSpaces()
            return key
        }

        static func isKeyByte(_ byte: UInt8) -> Bool {
            (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A) || byte == 0x5F || byte == 0x2D || byte == 0x2E
        }

        mutating func value() throws(ConfigError) -> Value {
            guard let byte = peek else { throw error("missing value") }
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                return .string(try string())
            case UInt8(ascii: "["):
                position += 1
                var items: [String] = []
                while true {
                    skipSpaces()
                    if peek == UInt8(ascii: "]") { position += 1; return .strings(items) }
                    guard peek == UInt8(ascii: "\"") || peek == UInt8(ascii: "'") else {
                        throw error("arrays hold strings only here (expected a quoted string or ']')")
                    }
                    items.append(try string())
                    skipSpaces()
                    if peek == UInt8(ascii: ",") { position += 1; continue }
                    guard peek == UInt8(ascii: "]") else { throw error("expected ',' or ']' (an array stays on one line)") }
                }
            case UInt8(ascii: "t"), UInt8(ascii: "f"):
                let start = position
                while let next = peek, next >= 0x61, next <= 0x7A { position += 1 }
                switch String(decoding: bytes[start..<position], as: UTF8.self) {
                case "true": return .boolean(true)
                case "false": return .boolean(false)
                default: position = start; throw error("expected true, false, a number, a quoted string or an array")
                }
            default:
                let start = position
                if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { position += 1 }
                var digits = ""
                while let next = peek, (next >= 0x30 && next <= 0x39) || next == UInt8(ascii: "_") {
                    if next != UInt8(ascii: "_") { digits.append(Character(UnicodeScalar(next))) }
                    position += 1
                }
                guard !digits.isEmpty, let magnitude = Int(digits) else {
                    position = start
                    throw error("expected true, false, an integer, a quoted string or an array")
                }
                return .integer(bytes[start] == UInt8(ascii: "-") ? -magnitude : magnitude)
            }
        }

        mutating func string() throws(ConfigError) -> String {
            let quote = bytes[position]
            position += 1
            var utf8: [UInt8] = []
            while let byte = peek {
                position += 1
                if byte == quote { return String(decoding: utf8, as: UTF8.self) }
                if byte == UInt8(ascii: "\\"), quote == UInt8(ascii: "\"") {
                    guard let escaped = peek else { break }
                    position += 1
                    switch escaped {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"): utf8.append(escaped)
                    case UInt8(ascii: "n"): utf8.append(0x0A)
                    case UInt8(ascii: "t"): utf8.append(0x09)
                    default: position -= 1; throw error("unsupported escape '\\\(Character(UnicodeScalar(escaped)))'")
                    }
                    continue
                }
                utf8.append(byte)
            }
            throw error("unterminated string (strings stay on one line)")
        }
    }
}

/// A configuration problem, with the file, line and column when it comes from a file.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var line: Int
    public var column: Int
    public var message: String

    public init(path: String, line: Int, column: Int = 0, _ message: String) {
        self.path = path
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String {
        if path.isEmpty { return message }
        if line == 0 { return "\(path): \(message)" }
        return column > 0 ? "\(path):\(line):\(column): \(message)" : "\(path):\(line): \(message)"
    }
}
