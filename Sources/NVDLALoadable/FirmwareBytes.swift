/// Little-endian reads from a descriptor region, every one bounds-checked. The firmware's structs
/// are `__packed`: fields sit at the byte offsets the C compiler gives them without padding.
struct FirmwareBytes {
    let bytes: [UInt8]
    let what: String

    init(_ bytes: [UInt8], what: String) {
        self.bytes = bytes
        self.what = what
    }

    /// The `length` bytes at `offset`, as a new reader named `name`.
    func slice(_ offset: Int, _ length: Int, _ name: String) throws(FirmwareDescriptorError) -> FirmwareBytes {
        try check(offset, length, name)
        return FirmwareBytes(Array(bytes[offset..<(offset + length)]), what: name)
    }

    func check(_ offset: Int, _ length: Int, _ field: String) throws(FirmwareDescriptorError) {
        guard offset >= 0, length >= 0, offset <= bytes.count, length <= bytes.count - offset else {
            throw .truncated(what: "\(what).\(field)", offset: offset, needed: length, available: bytes.count)
        }
    }

    func u8(_ offset: Int, _ field: String) throws(FirmwareDescriptorError) -> UInt8 {
        try check(offset, 1, field)
        return bytes[offset]
    }

    func i8(_ offset: Int, _ field: String) throws(FirmwareDescriptorError) -> Int8 {
        Int8(bitPattern: try u8(offset, field))
    }

    func u16(_ offset: Int, _ field: String) throws(FirmwareDescriptorError) -> UInt16 {
        try littleEndian(offset, field)
    }

    func i16(_ offset: Int, _ field: String) throws(FirmwareDescriptorError) -> Int16 {
        Int16(bitPattern: try u16(offset, field))
    }

    func u32(_ offset: Int, _ field: String) throws(FirmwareDescriptorError) -> UInt32 {
        try littleEndian(offset, field)
    }

    func i32(_ offset: Int, _ field: String) throws(FirmwareDescriptorError) -> Int32 {
        Int32(bitPattern: try u32(offset, field))
    }

    func u64(_ offset: Int, _ field: String) throws(FirmwareDescriptorError) -> UInt64 {
        try littleEndian(offset, field)
    }

    func i64(_ offset: Int, _ field: String) throws(FirmwareDescriptorError) -> Int64 {
        Int64(bitPattern: try u64(offset, field))
    }

    /// The little-endian unsigned integer at `offset`, bounds-checked.
    private func littleEndian<Value: FixedWidthInteger & UnsignedInteger>(_ offset: Int, _ field: String) throws(FirmwareDescriptorError) -> Value {
        let width = MemoryLayout<Value>.size
        try check(offset, width, field)
        var value: Value = 0
        for i in 0..<width { value |= Value(bytes[offset + i]) << (8 * i) }
        return value
    }
}
