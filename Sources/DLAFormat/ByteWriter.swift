/// Appends little-endian fields to a growing byte array; the writer side of `ByteReader`.
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    var count: Int { bytes.count }

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u16(_ value: UInt16) { append(littleEndian: value) }
    mutating func u32(_ value: UInt32) { append(littleEndian: value) }
    mutating func u64(_ value: UInt64) { append(littleEndian: value) }
    mutating func i32(_ value: Int32) { append(littleEndian: UInt32(bitPattern: value)) }
    mutating func i64(_ value: Int64) { append(littleEndian: UInt64(bitPattern: value)) }
    mutating func f32(_ value: Float) { append(littleEndian: value.bitPattern) }

    /// A count or length field; callers only pass sizes of in-memory collections.
    mutating func count32(_ value: Int) { u32(UInt32(truncatingIfNeeded: value)) }

    mutating func string(_ value: String) {
        let utf8 = Array(value.utf8)
        count32(utf8.count)
        bytes.append(contentsOf: utf8)
    }

    mutating func raw(_ other: [UInt8]) { bytes.append(contentsOf: other) }

    /// Zero bytes up to the next multiple of `alignment` (relative to the start of this writer).
    mutating func pad(to alignment: Int) {
        let remainder = bytes.count % alignment
        if remainder != 0 { bytes.append(contentsOf: repeatElement(0, count: alignment - remainder)) }
    }

    mutating func patch32(at offset: Int, _ value: UInt32) {
        for index in 0..<4 { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(index))) }
    }

    mutating func patch64(at offset: Int, _ value: UInt64) {
        for index in 0..<8 { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(index))) }
    }

    private mutating func append<T: FixedWidthInteger>(littleEndian value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
}

/// Rounds `value` up to a multiple of `alignment` (a power of two), or nil on overflow.
func alignUp(_ value: Int, _ alignment: Int) -> Int? {
    let (sum, overflow) = value.addingReportingOverflow(alignment - 1)
    return overflow ? nil : sum & ~(alignment - 1)
}
