/// Writes the inference answer's JSON directly: it is the hot path, and its numbers are the
/// bulk of it. Floats are written in their shortest round-trip form (Swift's `description`),
/// so a client parsing them as float32 gets the exact values; non-finite values (possible in
/// FP8/FP16 outputs) are written as null, which JSON has in their place.
struct InferenceJSON {
    private(set) var bytes: [UInt8] = []
    private var needsComma = false

    init() { bytes.reserveCapacity(512) }

    mutating func open() {
        separator()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    mutating func close() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    mutating func key(_ name: String) {
        separator()
        quoted(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    mutating func string(_ value: String) {
        separator()
        quoted(value)
        needsComma = true
    }

    mutating func integer(_ value: Int64) {
        separator()
        bytes.append(contentsOf: String(value).utf8)
        needsComma = true
    }

    mutating func float(_ value: Float) {
        separator()
        if value.isFinite { bytes.append(contentsOf: value.description.utf8) } else { bytes.append(contentsOf: "null".utf8) }
        needsComma = true
    }

    mutating func double(_ value: Double) {
        separator()
        if value.isFinite { bytes.append(contentsOf: value.description.utf8) } else { bytes.append(contentsOf: "null".utf8) }
        needsComma = true
    }

    /// `values` as `rows` arrays of equal length.
    mutating func rows(_ values: [Float], rows: Int) {
        separator()
        bytes.append(UInt8(ascii: "["))
        let width = rows > 0 ? values.count / rows : 0
        for row in 0..<rows {
            if row > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(UInt8(ascii: "["))
            needsComma = false
            for value in values[(row * width)..<((row + 1) * width)] { float(value) }
            bytes.append(UInt8(ascii: "]"))
        }
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    mutating func array<T>(_ items: [T], _ write: (inout InferenceJSON, T) -> Void) {
        separator()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
        for item in items { write(&self, item) }
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// The object written so far with `"id": id` as its first member: an answer is written
    /// before its history row commits, and the row's id is known only after.
    func bytes(leadingID id: Int64) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count + 24)
        result.append(contentsOf: "{\"id\":\(id)".utf8)
        if bytes.count > 2 { result.append(UInt8(ascii: ",")) }
        result.append(contentsOf: bytes.dropFirst())
        return result
    }

    private mutating func separator() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        needsComma = false
    }

    private mutating func quoted(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: "\\\"".utf8)
            case UInt8(ascii: "\\"): bytes.append(contentsOf: "\\\\".utf8)
            case 0..<0x20: bytes.append(contentsOf: "\\u00".utf8); bytes.append(contentsOf: Self.hexDigits(byte))
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static func hexDigits(_ byte: UInt8) -> [UInt8] {
        let digits = Array("0123456789abcdef".utf8)
        return [digits[Int(byte >> 4)], digits[Int(byte & 15)]]
    }
}
