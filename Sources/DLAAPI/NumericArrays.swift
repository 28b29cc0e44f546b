/// A nested JSON array of numbers, flattened: `[[1, 2], [3, 4]]` has shape `[2, 2]`.
public struct NumericArray: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Float]

    public init(shape: [Int], values: [Float]) {
        self.shape = shape
        self.values = values
    }
}

/// The inputs of an inference request body: one unnamed array (`{"inputs": [[…], …]}`) or one
/// array per input name (`{"inputs": {"x": [[…]], …}}`).
public enum InferenceInputs: Sendable, Equatable {
    case single(NumericArray)
    case named([(String, NumericArray)])

    public static func == (lhs: InferenceInputs, rhs: InferenceInputs) -> Bool {
        switch (lhs, rhs) {
        case (.single(let a), .single(let b)): a == b
        case (.named(let a), .named(let b)): a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }
}

/// Why a body is not a valid inference request; the message names the byte offset.
public struct NumericJSONError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var offset: Int
    public var description: String { "\(message) (at byte \(offset))" }
}

/// Parses inference request bodies without building a generic JSON tree.
///
/// Foundation's `JSONDecoder` needs about 125 µs for a 784-number array, which alone would cap
/// JSON inference near 10,000 requests/s on two cores. This parser walks the bytes once. Numbers
/// are rounded to Float32 exactly as `Float(String)` does (correctly rounded): the common case
/// goes through an exact Double computation, and the rare value whose Double lands on a Float32
/// rounding midpoint takes the slow, exact path.
public enum InferenceBodyParser {
    /// Largest nesting of arrays accepted (batch + a 4-D sample, with room to spare).
    public static let maxDepth = 8

    public static func parse(_ bytes: [UInt8]) throws(NumericJSONError) -> InferenceInputs {
        var result: InferenceInputs?
        var failure: NumericJSONError?
        bytes.withUnsafeBufferPointer { buffer in
            var parser = Parser(bytes: buffer)
            do throws(NumericJSONError) {
                result = try parser.parseBody()
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        return result!
    }

    /// Parses one nested numeric array (a whole document).
    public static func parseArray(_ bytes: [UInt8]) throws(NumericJSONError) -> NumericArray {
        var result: NumericArray?
        var failure: NumericJSONError?
        bytes.withUnsafeBufferPointer { buffer in
            var parser = Parser(bytes: buffer)
            do throws(NumericJSONError) {
                parser.skipWhitespace()
                let array = try parser.parseNumericArray()
                parser.skipWhitespace()
                guard parser.position == buffer.count else { throw parser.error("unexpected text after the array") }
                result = array
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        return result!
    }

    private struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var position = 0

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        func error(_ message: String) -> NumericJSONError { NumericJSONError(message: message, offset: position) }

        mutating func skipWhitespace() {
            while position < bytes.count {
                switch bytes[position] {
                case 0x20, 0x0A, 0x0D, 0x09: position += 1
                default: return
                }
            }
        }

        mutating func expect(_ byte: UInt8, _ what: String) throws(NumericJSONError) {
            skipWhitespace()
            guard position < bytes.count, bytes[position] == byte else {
                throw error(position < bytes.count ? "expected \(what)" : "expected \(what), found the end of the body")
            }
            position += 1
        }

        mutating func peek() -> UInt8? {
            skipWhitespace()
            return position < bytes.count ? bytes[position] : nil
        }

        /// `{"inputs": …}`; other keys are refused so that a typo does not pass silently.
        mutating func parseBody() throws(NumericJSONError) -> InferenceInputs {
            try expect(UInt8(ascii: "{"), "'{' (the body is a JSON object {\"inputs\": …})")
            var inputs: InferenceInputs?
            if peek() == UInt8(ascii: "}") { throw error("missing \"inputs\"") }
            while true {
                let key = try parseString()
                try expect(UInt8(ascii: ":"), "':'")
                guard key == "inputs" else { throw error("unknown key \"\(key)\" (expected \"inputs\")") }
                guard inputs == nil else { throw error("\"inputs\" given twice") }
                switch peek() {
                case UInt8(ascii: "["): inputs = .single(try parseNumericArray())
                case UInt8(ascii: "{"): inputs = .named(try parseNamedArrays())
                default: throw error("\"inputs\" must be an array of samples or an object keyed by input name")
                }
                switch peek() {
                case UInt8(ascii: ","): position += 1
                case UInt8(ascii: "}"):
                    position += 1
                    skipWhitespace()
                    guard position == bytes.count else { throw error("unexpected text after the object") }
                    return inputs!
                default: throw error("expected ',' or '}'")
                }
            }
        }

        mutating func parseNamedArrays() throws(NumericJSONError) -> [(String, NumericArray)] {
            try expect(UInt8(ascii: "{"), "'{'")
            var arrays: [(String, NumericArray)] = []
            if peek() == UInt8(ascii: "}") { throw error("\"inputs\" names no input") }
            while true {
                let name = try parseString()
                guard !arrays.contains(where: { $0.0 == name }) else { throw error("input \"\(name)\" given twice") }
                try expect(UInt8(ascii: ":"), "':'")
                arrays.append((name, try parseNumericArray()))
                switch peek() {
                case UInt8(ascii: ","): position += 1
                case UInt8(ascii: "}"):
                    position += 1
                    return arrays
                default: throw error("expected ',' or '}'")
                }
            }
        }

        /// A string without escapes beyond `\"`, `\\` and `\/` (input names and keys).
        mutating func parseString() throws(NumericJSONError) -> String {
            try expect(UInt8(ascii: "\""), "a string in double quotes")
            var utf8: [UInt8] = []
            while position < bytes.count {
                let byte = bytes[position]
                position += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return String(decoding: utf8, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard position < bytes.count else { break }
                    let escaped = bytes[position]
                    position += 1
                    switch escaped {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escaped)
                    default: throw error("unsupported escape in a name")
                    }
                case 0..<0x20:
                    throw error("control character in a string")
                default:
                    utf8.append(byte)
                }
            }
            throw error("unterminated string")
        }

        /// A rectangular nested array of numbers: every sub-array at one depth has one length.
        mutating func parseNumericArray() throws(NumericJSONError) -> NumericArray {
            var shape: [Int] = []
            var values: [Float] = []
            values.reserveCapacity(1024)
            // Depth of the arrays that hold numbers; fixed by the first number.
            var leafDepth = -1
            try parseLevel(depth: 0, shape: &shape, leafDepth: &leafDepth, values: &values)
            return NumericArray(shape: shape, values: values)
        }

        /// One array at `depth` (0 = outermost). `shape[depth]` is set by the first array closed
        /// at that depth; every later one must match it.
        mutating func parseLevel(depth: Int, shape: inout [Int], leafDepth: inout Int, values: inout [Float]) throws(NumericJSONError) {
            guard depth < InferenceBodyParser.maxDepth else { throw error("arrays nested deeper than \(InferenceBodyParser.maxDepth)") }
            try expect(UInt8(ascii: "["), "'['")
            var count = 0
            while true {
                skipWhitespace()
                guard position < bytes.count else { throw error("unterminated array") }
                if bytes[position] == UInt8(ascii: "]") {
                    guard count > 0 else { throw error("empty array") }
                    position += 1
                    break
                }
                if count > 0 {
                    guard bytes[position] == UInt8(ascii: ",") else { throw error("expected ',' or ']'") }
                    position += 1
                    skipWhitespace()
                    guard position < bytes.count else { throw error("unterminated array") }
                    guard bytes[position] != UInt8(ascii: "]") else { throw error("trailing comma") }
                }
                if bytes[position] == UInt8(ascii: "[") {
                    if leafDepth >= 0, depth >= leafDepth { throw error("mixed numbers and arrays at depth \(depth + 1)") }
                    try parseLevel(depth: depth + 1, shape: &shape, leafDepth: &leafDepth, values: &values)
                } else {
                    if leafDepth < 0 {
                        leafDepth = depth
                    } else if depth != leafDepth {
                        throw error("mixed numbers and arrays: a number at depth \(depth + 1), expected arrays down to depth \(leafDepth + 1)")
                    }
                    values.append(try parseNumber())
                }
                count += 1
            }
            if depth < shape.count, shape[depth] < 0 {
                shape[depth] = count
            } else if depth < shape.count {
                guard shape[depth] == count else {
                    throw error("ragged array: \(count) elements at depth \(depth + 1), expected \(shape[depth])")
                }
            } else {
                while shape.count < depth { shape.append(-1) }
                shape.append(count)
            }
        }

        /// A JSON number, correctly rounded to Float32.
        mutating func parseNumber() throws(NumericJSONError) -> Float {
            let start = position
            var negative = false
            if position < bytes.count, bytes[position] == UInt8(ascii: "-") {
                negative = true
                position += 1
            }
            var mantissa: UInt64 = 0
            var digits = 0
            var exponent = 0
            var sawDigit = false
            let integerStart = position
            while position < bytes.count, bytes[position] &- 0x30 < 10 {
                let digit = UInt64(bytes[position] &- 0x30)
                if digits < 19 {
                    mantissa = mantissa &* 10 &+ digit
                    if mantissa != 0 { digits += 1 }
                } else {
                    exponent += 1
                }
                sawDigit = true
                position += 1
            }
            guard sawDigit else { throw error("expected a number") }
            if position - integerStart > 1, bytes[integerStart] == UInt8(ascii: "0") {
                throw error("a number may not have leading zeros")
            }
            if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
                position += 1
                let fractionStart = position
                while position < bytes.count, bytes[position] &- 0x30 < 10 {
                    if digits < 19 {
                        mantissa = mantissa &* 10 &+ UInt64(bytes[position] &- 0x30)
                        if mantissa != 0 { digits += 1 }
                        exponent -= 1
                    }
                    position += 1
                }
                guard position > fractionStart else { throw error("expected digits after the decimal point") }
            }
            if position < bytes.count, bytes[position] | 0x20 == UInt8(ascii: "e") {
                position += 1
                var exponentNegative = false
                if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                    exponentNegative = bytes[position] == UInt8(ascii: "-")
                    position += 1
                }
                var value = 0
                let exponentStart = position
                while position < bytes.count, bytes[position] &- 0x30 < 10 {
                    if value < 100_000 { value = value * 10 + Int(bytes[position] &- 0x30) }
                    position += 1
                }
                guard position > exponentStart else { throw error("expected digits in the exponent") }
                exponent += exponentNegative ? -value : value
            }
            if digits < 19, mantissa < (1 << 53), let fast = Self.fastFloat(mantissa, exponent: exponent) {
                return negative ? -fast : fast
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
            guard let value = Float(text) else { throw NumericJSONError(message: "not a number: \(text)", offset: start) }
            return value
        }

        /// Clinger's fast path in Double (exact for mantissa < 2^53 and |exponent| ≤ 22), then to
        /// Float32 unless the Double is a Float32 rounding midpoint (double rounding could differ).
        static func fastFloat(_ mantissa: UInt64, exponent: Int) -> Float? {
            guard (-22...22).contains(exponent) else { return nil }
            let value = exponent < 0 ? Double(mantissa) / powersOfTen[-exponent] : Double(mantissa) * powersOfTen[exponent]
            guard value != 0 else { return 0 }
            guard !isFloatMidpoint(value) else { return nil }
            return Float(value)
        }

        static func isFloatMidpoint(_ value: Double) -> Bool {
            let bits = value.bitPattern & 0x7FFF_FFFF_FFFF_FFFF
            let biased = Int(bits >> 52)
            // Below Float32's normal range more low bits are dropped: check the exact halfway pattern there.
            let floatBiased = biased - 1023 + 127
            let dropped = floatBiased >= 1 ? 29 : min(29 + (1 - floatBiased), 53)
            let mask: UInt64 = (1 << UInt64(dropped)) - 1
            let significand = (bits & ((1 << 52) - 1)) | (biased == 0 ? 0 : (1 << 52))
            return significand & mask == (1 << UInt64(dropped - 1))
        }

        static let powersOfTen: [Double] = (0...22).map { exponent in
            var value = 1.0
            for _ in 0..<exponent { value *= 10 }
            return value
        }
    }
}
