/// The `.npy` header: the Python dict literal `{'descr': …, 'fortran_order': …, 'shape': …}`.
///
/// Reading accepts what numpy writes (any key order, padding, trailing commas, Python 2 `3L`
/// integers) and rejects everything dlad cannot hold with a specific error. Writing reproduces
/// numpy's own bytes exactly, so files round-trip byte for byte through `numpy.save`.
struct NPYHeader: Equatable {
    var dtype: NPYDType
    var shape: [Int]

    /// numpy pads the header so the data starts on a 64-byte boundary.
    static let alignment = 64
    /// numpy leaves room for the leading dimension to grow to this many digits in place.
    static let growthAxisMaxDigits = 21
    /// numpy's maximum number of dimensions (NPY_MAXDIMS).
    static let maxDimensions = 64

    /// The dict text as numpy writes it, before padding: keys sorted, a trailing `, `, and room
    /// for the leading dimension to grow. Built as bytes: the daemon writes one per answer.
    var dictText: [UInt8] {
        var text: [UInt8] = []
        text.reserveCapacity(96)
        text += Self.descrPrefix
        text += dtype.rawValue.utf8
        text += Self.descrToShape
        for (index, dimension) in shape.enumerated() {
            if index > 0 { text += [0x2C, 0x20] }
            text += String(dimension).utf8
        }
        if shape.count == 1 { text.append(0x2C) }
        text += Self.shapeSuffix
        let growthRoom = shape.first.map { max(0, Self.growthAxisMaxDigits - String($0).utf8.count) } ?? 0
        text += repeatElement(0x20, count: growthRoom)
        return text
    }

    /// Header bytes as stored after the length field for `version`: the dict text, space padding
    /// to the alignment, and a newline.
    func encoded(version: NPYVersion) -> [UInt8] {
        var text = dictText
        let prefixLength = NPY.magic.count + 2 + version.lengthFieldSize
        let padding = Self.alignment - (prefixLength + text.count + 1) % Self.alignment
        text += repeatElement(0x20, count: padding)
        text.append(0x0A)
        return text
    }

    private static let descrPrefix = Array("{'descr': '".utf8)
    private static let descrToShape = Array("', 'fortran_order': False, 'shape': (".utf8)
    private static let shapeSuffix = Array("), }".utf8)

    /// The header numpy itself writes (the text `dictText` gives, then spaces and a newline),
    /// read without the general parser; nil for anything else, which the parser then reads.
    /// Nearly every `.npy` a client sends is numpy's, and the general parser was a tenth of the
    /// daemon's per-request work on its event loop.
    static func canonical(_ bytes: ArraySlice<UInt8>) -> NPYHeader? {
        guard bytes.starts(with: descrPrefix) else { return nil }
        var position = bytes.startIndex + descrPrefix.count
        let descrStart = position
        while position < bytes.endIndex, bytes[position] != UInt8(ascii: "'") { position += 1 }
        guard let descr = String(validating: bytes[descrStart..<position], as: UTF8.self), let dtype = NPYDType(rawValue: descr) else { return nil }
        position += descrToShape.count
        // The dimensions, read loosely: the comparison below accepts only numpy's exact spelling.
        var shape: [Int] = []
        var dimension: Int?
        var digits = 0
        while position < bytes.endIndex, bytes[position] != UInt8(ascii: ")") {
            let byte = bytes[position]
            if (0x30...0x39).contains(byte) {
                // 18 digits always fit in Int; longer ones are the general parser's to report.
                guard digits < 18 else { return nil }
                dimension = (dimension ?? 0) * 10 + Int(byte - 0x30)
                digits += 1
            } else if let finished = dimension {
                guard shape.count < maxDimensions else { return nil }
                shape.append(finished)
                dimension = nil
                digits = 0
            }
            position += 1
        }
        if let dimension { shape.append(dimension) }
        let header = NPYHeader(dtype: dtype, shape: shape)
        let text = header.dictText
        guard bytes.count > text.count, bytes.starts(with: text) else { return nil }
        guard bytes.dropFirst(text.count).dropLast().allSatisfy({ $0 == 0x20 }), bytes.last == 0x0A else { return nil }
        return header
    }

    init(dtype: NPYDType, shape: [Int]) {
        self.dtype = dtype
        self.shape = shape
    }

    /// Parses and validates header bytes (Latin-1 before version 3.0, UTF-8 from it).
    init(parsing bytes: ArraySlice<UInt8>, utf8: Bool) throws(NPYError) {
        if let header = Self.canonical(bytes) {
            self = header
        } else {
            try self.init(parsingLiteral: bytes, utf8: utf8)
        }
    }

    /// Parses header bytes as the Python dict literal they are, whatever their spelling.
    init(parsingLiteral bytes: ArraySlice<UInt8>, utf8: Bool) throws(NPYError) {
        var parser = PythonLiteralParser(bytes: Array(bytes), utf8: utf8)
        let entries = try parser.parseHeaderDict()
        var descr: PythonLiteral?
        var fortranOrder: PythonLiteral?
        var shape: PythonLiteral?
        for (key, value) in entries {
            switch key {
            case "descr": descr = value
            case "fortran_order": fortranOrder = value
            case "shape": shape = value
            default: throw .unexpectedKey(key)
            }
        }
        guard let descr else { throw .missingKey("descr") }
        guard let fortranOrder else { throw .missingKey("fortran_order") }
        guard let shape else { throw .missingKey("shape") }
        dtype = try Self.dtype(from: descr)
        switch fortranOrder {
        case .bool(false): break
        case .bool(true): throw .fortranOrder
        default: throw .malformedHeader(reason: "'fortran_order' must be True or False, found \(fortranOrder)")
        }
        self.shape = try Self.shape(from: shape)
    }

    private static func dtype(from literal: PythonLiteral) throws(NPYError) -> NPYDType {
        switch literal {
        case .string(let descr):
            if let dtype = NPYDType(rawValue: descr) { return dtype }
            let typeCode = descr.drop { "<>|=".contains($0) }
            if typeCode.hasPrefix("O") { throw .objectArray(descr) }
            if descr.hasPrefix(">"), NPYDType.allCases.contains(where: { $0.rawValue.dropFirst() == typeCode }) {
                throw .bigEndian(descr)
            }
            throw .unsupportedDType(descr)
        case .list:
            throw .structuredDType
        default:
            throw .malformedHeader(reason: "'descr' must be a string, found \(literal)")
        }
    }

    private static func shape(from literal: PythonLiteral) throws(NPYError) -> [Int] {
        guard case .tuple(let items) = literal else {
            throw .malformedHeader(reason: "'shape' must be a tuple, found \(literal)")
        }
        guard items.count <= maxDimensions else {
            throw .invalidShape(reason: "\(items.count) dimensions (numpy allows at most \(maxDimensions))")
        }
        var dimensions: [Int] = []
        for item in items {
            guard case .integer(let digits) = item else {
                throw .invalidShape(reason: "dimension \(item) is not an integer")
            }
            guard let dimension = Int(digits) else {
                throw .invalidShape(reason: "dimension \(digits) does not fit in 64 bits")
            }
            guard dimension >= 0 else { throw .invalidShape(reason: "negative dimension \(dimension)") }
            dimensions.append(dimension)
        }
        return dimensions
    }
}

/// The subset of Python literal syntax that appears in `.npy` headers.
enum PythonLiteral: Equatable, CustomStringConvertible {
    case string(String)
    case bool(Bool)
    case none
    /// Decimal digits with an optional leading `-`, kept as text so oversized values are
    /// reported rather than wrapped.
    case integer(String)
    case tuple([PythonLiteral])
    case list([PythonLiteral])

    var description: String {
        switch self {
        case .string(let text): "'\(text)'"
        case .bool(let value): value ? "True" : "False"
        case .none: "None"
        case .integer(let digits): digits
        case .tuple(let items): "(\(items.map(\.description).joined(separator: ", ")))"
        case .list(let items): "[\(items.map(\.description).joined(separator: ", "))]"
        }
    }
}

/// A recursive-descent parser for `.npy` header dicts. Nesting is capped so a hostile header
/// cannot exhaust the stack.
struct PythonLiteralParser {
    let bytes: [UInt8]
    let utf8: Bool
    var position = 0

    static let maxNesting = 8

    init(bytes: [UInt8], utf8: Bool) {
        self.bytes = bytes
        self.utf8 = utf8
    }

    /// `{ 'key': value, … }` followed only by whitespace.
    mutating func parseHeaderDict() throws(NPYError) -> [(String, PythonLiteral)] {
        skipWhitespace()
        try expect(UInt8(ascii: "{"))
        var entries: [(String, PythonLiteral)] = []
        while true {
            skipWhitespace()
            if consume(UInt8(ascii: "}")) { break }
            guard case .string(let key) = try parseValue(depth: 1) else {
                throw .malformedHeader(reason: "dict keys must be strings (at byte \(position))")
            }
            skipWhitespace()
            try expect(UInt8(ascii: ":"))
            let value = try parseValue(depth: 1)
            if entries.contains(where: { $0.0 == key }) {
                throw .malformedHeader(reason: "duplicate key '\(key)'")
            }
            entries.append((key, value))
            skipWhitespace()
            if consume(UInt8(ascii: "}")) { break }
            try expect(UInt8(ascii: ","))
        }
        skipWhitespace()
        guard position == bytes.count else {
            throw .malformedHeader(reason: "unexpected text after the dict at byte \(position)")
        }
        return entries
    }

    private mutating func parseValue(depth: Int) throws(NPYError) -> PythonLiteral {
        guard depth <= Self.maxNesting else {
            throw .malformedHeader(reason: "nesting deeper than \(Self.maxNesting) levels")
        }
        skipWhitespace()
        guard position < bytes.count else { throw .malformedHeader(reason: "header ends where a value was expected") }
        switch bytes[position] {
        case UInt8(ascii: "'"), UInt8(ascii: "\""):
            return try parseString()
        case UInt8(ascii: "("):
            position += 1
            let (items, sawComma) = try parseSequence(closing: UInt8(ascii: ")"), depth: depth)
            // `(3)` is just 3 in Python; only a comma or emptiness makes a tuple.
            if items.count == 1 && !sawComma { return items[0] }
            return .tuple(items)
        case UInt8(ascii: "["):
            position += 1
            return .list(try parseSequence(closing: UInt8(ascii: "]"), depth: depth).items)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try parseInteger()
        default:
            for (word, literal) in [("True", PythonLiteral.bool(true)), ("False", .bool(false)), ("None", .none)]
            where bytes[position...].starts(with: word.utf8) {
                position += word.utf8.count
                return literal
            }
            throw .malformedHeader(reason: "unexpected character '\(printable(bytes[position]))' at byte \(position)")
        }
    }

    private mutating func parseSequence(closing: UInt8, depth: Int) throws(NPYError) -> (items: [PythonLiteral], sawComma: Bool) {
        var items: [PythonLiteral] = []
        var sawComma = false
        while true {
            skipWhitespace()
            if consume(closing) { return (items, sawComma) }
            items.append(try parseValue(depth: depth + 1))
            skipWhitespace()
            if consume(closing) { return (items, sawComma) }
            try expect(UInt8(ascii: ","))
            sawComma = true
        }
    }

    private mutating func parseString() throws(NPYError) -> PythonLiteral {
        let quote = bytes[position]
        position += 1
        let start = position
        while position < bytes.count && bytes[position] != quote {
            if bytes[position] == UInt8(ascii: "\\") {
                throw .malformedHeader(reason: "escape sequences in strings are not supported (at byte \(position))")
            }
            position += 1
        }
        guard position < bytes.count else { throw .malformedHeader(reason: "unterminated string starting at byte \(start - 1)") }
        let content = bytes[start..<position]
        position += 1
        if utf8 {
            guard let text = String(validating: content, as: UTF8.self) else {
                throw .malformedHeader(reason: "string at byte \(start - 1) is not valid UTF-8")
            }
            return .string(text)
        }
        return .string(String(String.UnicodeScalarView(content.map { Unicode.Scalar($0) })))
    }

    private mutating func parseInteger() throws(NPYError) -> PythonLiteral {
        let start = position
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        let digitsStart = position
        while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) {
            position += 1
        }
        guard position > digitsStart else { throw .malformedHeader(reason: "'-' without digits at byte \(start)") }
        let text = String(decoding: bytes[start..<position], as: UTF8.self)
        // Python 2 numpy wrote long integers as `3L`.
        _ = consume(UInt8(ascii: "L"))
        return .integer(text)
    }

    private mutating func skipWhitespace() {
        while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        guard position < bytes.count, bytes[position] == byte else { return false }
        position += 1
        return true
    }

    private mutating func expect(_ byte: UInt8) throws(NPYError) {
        guard consume(byte) else {
            let found = position < bytes.count ? "'\(printable(bytes[position]))'" : "the end of the header"
            throw .malformedHeader(reason: "expected '\(printable(byte))' at byte \(position), found \(found)")
        }
    }

    private func printable(_ byte: UInt8) -> String {
        (0x20..<0x7F).contains(byte) ? String(UnicodeScalar(byte)) : "\\x" + String(byte, radix: 16)
    }
}
