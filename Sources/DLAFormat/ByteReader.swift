/// Bounds-checked little-endian reader over one region of the file.
///
/// Every read checks the remaining length first and reports failures with the section name
/// and the absolute file offset, so no field is ever used before it has been validated.
struct ByteReader {
    let bytes: [UInt8]
    let section: String
    /// The item currently being read, e.g. "tensor 3 'fc1.weight'", added to error messages.
    var context: String?
    private(set) var position: Int
    let end: Int

    init(_ bytes: [UInt8], section: String, range: Range<Int>) {
        self.bytes = bytes
        self.section = section
        self.position = range.lowerBound
        self.end = range.upperBound
    }

    var remaining: Int { end - position }
    var isAtEnd: Bool { position == end }

    func error(_ kind: DLAFormatError.Kind, _ message: String, at offset: Int? = nil) -> DLAFormatError {
        DLAFormatError(kind, section: section, offset: offset ?? position, context: context, message)
    }

    mutating func require(_ count: Int, _ what: String) throws(DLAFormatError) {
        guard count >= 0, count <= remaining else {
            throw error(.truncated, "\(what) truncated (needs \(count) bytes, \(remaining) left)")
        }
    }

    mutating func u8(_ what: String) throws(DLAFormatError) -> UInt8 {
        try require(1, what)
        defer { position += 1 }
        return bytes[position]
    }

    mutating func u16(_ what: String) throws(DLAFormatError) -> UInt16 {
        UInt16(truncatingIfNeeded: try little(2, what))
    }

    mutating func u32(_ what: String) throws(DLAFormatError) -> UInt32 {
        UInt32(truncatingIfNeeded: try little(4, what))
    }

    mutating func u64(_ what: String) throws(DLAFormatError) -> UInt64 { try little(8, what) }
    mutating func i32(_ what: String) throws(DLAFormatError) -> Int32 { Int32(bitPattern: try u32(what)) }
    mutating func i64(_ what: String) throws(DLAFormatError) -> Int64 { Int64(bitPattern: try u64(what)) }
    mutating func f32(_ what: String) throws(DLAFormatError) -> Float { Float(bitPattern: try u32(what)) }

    /// A u64 size or offset field that must fit in `Int` and not exceed `limit`.
    mutating func size64(_ what: String, limit: Int) throws(DLAFormatError) -> Int {
        let start = position
        let value = try u64(what)
        guard value <= UInt64(limit) else {
            throw error(.malformed, "\(what) \(value) exceeds the limit \(limit)", at: start)
        }
        return Int(value)
    }

    /// A u32 element count, checked against the bytes left: each element needs at least
    /// `minimumElementSize` bytes, so a lying count fails here instead of in an allocation.
    mutating func count(_ what: String, minimumElementSize: Int, limit: Int = Int(UInt32.max)) throws(DLAFormatError) -> Int {
        let start = position
        let value = Int(try u32(what))
        guard value <= limit else {
            throw error(.limitExceeded, "\(what) \(value) exceeds the limit \(limit)", at: start)
        }
        let (needed, overflow) = value.multipliedReportingOverflow(by: minimumElementSize)
        guard !overflow, needed <= remaining else {
            throw error(.truncated, "\(what) \(value) needs at least \(needed) more bytes, \(remaining) left", at: start)
        }
        return value
    }

    mutating func string(_ what: String, limit: Int = 1 << 20) throws(DLAFormatError) -> String {
        let length = try count("\(what) length", minimumElementSize: 1, limit: limit)
        let start = position
        let slice = bytes[position..<position + length]
        guard let text = String(validating: slice, as: UTF8.self) else {
            throw error(.malformed, "\(what) is not valid UTF-8", at: start)
        }
        position += length
        return text
    }

    /// `count` raw bytes, as a range into `bytes` (no copy).
    mutating func span(_ count: Int, _ what: String) throws(DLAFormatError) -> Range<Int> {
        try require(count, what)
        defer { position += count }
        return position..<position + count
    }

    /// Skips zero padding up to the next multiple of `alignment` of the absolute offset.
    mutating func zeroPadding(to alignment: Int, _ what: String) throws(DLAFormatError) {
        guard let target = alignUp(position, alignment) else { throw error(.malformed, "\(what) offset overflows") }
        let range = try span(target - position, what)
        if let nonZero = range.first(where: { bytes[$0] != 0 }) {
            throw error(.malformed, "\(what) must be zero bytes", at: nonZero)
        }
    }

    private mutating func little(_ size: Int, _ what: String) throws(DLAFormatError) -> UInt64 {
        try require(size, what)
        var value: UInt64 = 0
        for index in 0..<size { value |= UInt64(bytes[position + index]) << (8 * UInt64(index)) }
        position += size
        return value
    }
}
