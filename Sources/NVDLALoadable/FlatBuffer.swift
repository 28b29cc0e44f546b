/// A strict reader of the flatbuffers binary layout, enough for NVIDIA's `loadable.fbs`.
///
/// The flatbuffers Swift runtime is not in this machine's package mirror, and a loadable arrives
/// from a push, so it is read as hostile input: every offset, vtable, table, vector and string is
/// checked against the buffer before it is used, as the flatbuffers `Verifier` checks them
/// (forward-only 32-bit offsets, aligned scalars (to at most 4 bytes, see `alignment(ofSize:)`), even vtables inside the buffer, tables and fields
/// inside the buffer, NUL-terminated strings), plus valid UTF-8 for strings. A bad buffer throws an
/// `NVDLALoadableError` naming the field and byte offset; nothing is read out of bounds.
///
/// Decoding is bounded: tables may share vectors and strings (flatbuffers deduplicates), so a
/// small hostile file could point thousands of entries at one large vector. Every table visited
/// and every string or scalar-vector element copied is charged to a budget proportional to the
/// file size, and byte vectors (blob data) are returned as slices of the one buffer, never copied.
///
/// Not covered, because `loadable.fbs` does not use them: unions, fixed-size arrays, file
/// identifiers and size-prefixed buffers.
final class FlatBufferReader {
    let bytes: [UInt8]
    private var decodedBytesLeft: Int
    private var tablesLeft: Int

    /// flatbuffers' own limit (`FLATBUFFERS_MAX_BUFFER_SIZE`): offsets are 32-bit signed.
    static let maximumBufferSize = Int(Int32.max)

    /// - Parameters:
    ///   - decodedByteBudget: bytes of strings and scalar vectors that may be copied out; by
    ///     default four times the buffer plus 1 MiB, far above what an honest buffer needs.
    ///   - maximumTables: tables that may be visited (the flatbuffers `Verifier`'s default).
    init(_ bytes: [UInt8], decodedByteBudget: Int? = nil, maximumTables: Int = 1_000_000) throws(NVDLALoadableError) {
        guard bytes.count <= Self.maximumBufferSize else {
            throw NVDLALoadableError(.limitExceeded, field: "flatbuffer", "\(bytes.count) bytes exceed the flatbuffers limit of \(Self.maximumBufferSize)")
        }
        self.bytes = bytes
        self.decodedBytesLeft = decodedByteBudget ?? (bytes.count * 4 + (1 << 20))
        self.tablesLeft = maximumTables
    }

    /// The root table, whose offset is the buffer's first 32-bit word.
    func root(_ name: String) throws(NVDLALoadableError) -> FlatBufferTable {
        guard bytes.count >= 8 else {
            throw NVDLALoadableError(.truncated, field: name, offset: 0, "a flatbuffer needs at least 8 bytes (root offset and a table), the file has \(bytes.count)")
        }
        return try table(at: try offsetTarget(at: 0, name), name)
    }

    // MARK: Layout primitives, each checked against the buffer

    /// The alignment required of a scalar of `size` bytes: its size, but at most 4. flatbuffers
    /// aligns scalars from the buffer's end and pads the buffer's start to its largest alignment,
    /// except NVIDIA's loadables: some are 4 bytes past a multiple of 8 long, and their 64-bit
    /// fields lie at 4 modulo 8 (CONV_D_L0_0's memory sizes, for one).
    static func alignment(ofSize size: Int) -> Int { min(size, 4) }

    /// A little-endian integer at `position`, after checking that it lies inside the buffer and
    /// is aligned (see `alignment(ofSize:)`).
    func load<T: FixedWidthInteger>(_ type: T.Type = T.self, at position: Int, _ field: @autoclosure () -> String) throws(NVDLALoadableError) -> T {
        let size = MemoryLayout<T>.size
        guard position >= 0, position <= bytes.count - size else {
            throw NVDLALoadableError(.truncated, field: field(), offset: position, "\(size)-byte value past the end of the \(bytes.count)-byte buffer")
        }
        let alignment = Self.alignment(ofSize: size)
        guard position % alignment == 0 else {
            throw NVDLALoadableError(.malformed, field: field(), offset: position, "\(size)-byte value is not aligned to \(alignment) bytes")
        }
        var value: UInt64 = 0
        for index in 0..<size { value |= UInt64(bytes[position + index]) << (8 * UInt64(index)) }
        return T(truncatingIfNeeded: value)
    }

    /// Follows the unsigned 32-bit offset stored at `position` (offsets only point forward).
    func offsetTarget(at position: Int, _ field: @autoclosure () -> String) throws(NVDLALoadableError) -> Int {
        let offset = Int(try load(UInt32.self, at: position, field()))
        guard offset > 0 else {
            throw NVDLALoadableError(.malformed, field: field(), offset: position, "offset 0 points at itself")
        }
        let target = position + offset
        guard target < bytes.count else {
            throw NVDLALoadableError(.truncated, field: field(), offset: position, "offset \(offset) points past the end of the \(bytes.count)-byte buffer")
        }
        return target
    }

    /// The table at `position`: its vtable (found through the signed offset at the table's start)
    /// must lie inside the buffer, be at least 4 bytes and even, and the table's inline data too.
    func table(at position: Int, _ path: String) throws(NVDLALoadableError) -> FlatBufferTable {
        guard tablesLeft > 0 else {
            throw NVDLALoadableError(.limitExceeded, field: path, offset: position, "more tables than the reader's limit")
        }
        tablesLeft -= 1
        try charge(8, path, position)
        let soffset = Int(try load(Int32.self, at: position, path))
        let vtable = position - soffset
        guard vtable >= 0, vtable <= bytes.count - 4 else {
            throw NVDLALoadableError(.malformed, field: path, offset: position, "vtable at \(vtable) lies outside the buffer")
        }
        let vtableSize = Int(try load(UInt16.self, at: vtable, path + " vtable"))
        let inlineSize = Int(try load(UInt16.self, at: vtable + 2, path + " vtable"))
        guard vtableSize >= 4, vtableSize % 2 == 0, vtable + vtableSize <= bytes.count else {
            throw NVDLALoadableError(.malformed, field: path, offset: vtable, "vtable size \(vtableSize) is not an even size of at least 4 inside the buffer")
        }
        guard inlineSize >= 4, position + inlineSize <= bytes.count else {
            throw NVDLALoadableError(.malformed, field: path, offset: position, "table size \(inlineSize) is below 4 or reaches past the end of the buffer")
        }
        return FlatBufferTable(reader: self, position: position, vtable: vtable, vtableSize: vtableSize, inlineSize: inlineSize, path: path)
    }

    /// A vector's element count and the position of its first element. The 32-bit length is
    /// aligned to 4 and the elements as `alignment(ofSize:)` says, and they fit in the buffer.
    func vector(at position: Int, elementSize: Int, elementAlignment: Int, _ field: @autoclosure () -> String) throws(NVDLALoadableError) -> (start: Int, count: Int) {
        let count = Int(try load(UInt32.self, at: position, field() + " length"))
        let start = position + 4
        let (length, overflow) = count.multipliedReportingOverflow(by: elementSize)
        guard !overflow, length <= bytes.count - start else {
            throw NVDLALoadableError(.truncated, field: field(), offset: position, "\(count) elements of \(elementSize) bytes reach past the end of the \(bytes.count)-byte buffer")
        }
        guard count == 0 || start % elementAlignment == 0 else {
            throw NVDLALoadableError(.malformed, field: field(), offset: start, "elements are not aligned to \(elementAlignment) bytes")
        }
        return (start, count)
    }

    /// A string: its bytes, a NUL terminator inside the buffer, and valid UTF-8.
    func string(at position: Int, _ field: @autoclosure () -> String) throws(NVDLALoadableError) -> String {
        let (start, count) = try vector(at: position, elementSize: 1, elementAlignment: 1, field())
        guard start + count < bytes.count, bytes[start + count] == 0 else {
            throw NVDLALoadableError(.malformed, field: field(), offset: start + count, "string of \(count) bytes has no NUL terminator")
        }
        try charge(count, field(), position)
        guard let text = String(validating: bytes[start..<start + count], as: UTF8.self) else {
            throw NVDLALoadableError(.malformed, field: field(), offset: start, "string is not valid UTF-8")
        }
        return text
    }

    /// Counts decoded bytes against the budget (see the type's documentation).
    func charge(_ count: Int, _ field: @autoclosure () -> String, _ position: Int) throws(NVDLALoadableError) {
        guard count <= decodedBytesLeft else {
            throw NVDLALoadableError(.limitExceeded, field: field(), offset: position, "decoding would exceed the reader's budget of decoded bytes (shared vectors or strings referenced too often)")
        }
        decodedBytesLeft -= count
    }
}

/// One table of a `FlatBufferReader`'s buffer, with checked accessors by field index (the order
/// of fields in the schema; vtable slot `4 + 2 × index`, as `flatc` numbers them). An absent field
/// reads as its default (0 for scalars, `nil` for everything else).
struct FlatBufferTable {
    let reader: FlatBufferReader
    let position: Int
    let vtable: Int
    let vtableSize: Int
    let inlineSize: Int
    /// Where this table sits in the tree, e.g. `loadable.memory_list[3]`, for error messages.
    let path: String

    /// The absolute position of a present field, checked to lie after the table's vtable offset,
    /// inside the buffer and aligned; `nil` when the vtable says the field is absent.
    ///
    /// Like the flatbuffers `Verifier`, this does not require the field to lie inside the table's
    /// declared inline size: the flatbuffers NVIDIA used in 2017 wrote tables whose last inline
    /// struct (the loadable's `version`) reaches past that size.
    func fieldPosition(_ index: Int, _ name: String, size: Int, alignment: Int) throws(NVDLALoadableError) -> Int? {
        let slot = 4 + 2 * index
        guard slot + 2 <= vtableSize else { return nil }
        let offset = Int(try reader.load(UInt16.self, at: vtable + slot, "\(path).\(name) vtable slot"))
        guard offset != 0 else { return nil }
        let fieldPosition = position + offset
        guard offset >= 4, fieldPosition <= reader.bytes.count - size else {
            throw NVDLALoadableError(.malformed, field: "\(path).\(name)", offset: position, "field at table offset \(offset) with \(size) bytes overlaps the table's start or reaches past the end of the buffer")
        }
        guard fieldPosition % alignment == 0 else {
            throw NVDLALoadableError(.malformed, field: "\(path).\(name)", offset: fieldPosition, "field is not aligned to \(alignment) bytes")
        }
        return fieldPosition
    }

    /// A scalar field; 0 when absent (every scalar in `loadable.fbs` defaults to 0).
    func scalar<T: FixedWidthInteger>(_ index: Int, _ name: String, as type: T.Type = T.self) throws(NVDLALoadableError) -> T {
        let size = MemoryLayout<T>.size
        guard let at = try fieldPosition(index, name, size: size, alignment: FlatBufferReader.alignment(ofSize: size)) else { return 0 }
        return try reader.load(T.self, at: at, "\(path).\(name)")
    }

    /// The bytes of an inline struct field of `size` bytes.
    func structBytes(_ index: Int, _ name: String, size: Int, alignment: Int) throws(NVDLALoadableError) -> ArraySlice<UInt8>? {
        guard let at = try fieldPosition(index, name, size: size, alignment: alignment) else { return nil }
        return reader.bytes[at..<at + size]
    }

    func string(_ index: Int, _ name: String) throws(NVDLALoadableError) -> String? {
        guard let target = try referenced(index, name) else { return nil }
        return try reader.string(at: target, "\(path).\(name)")
    }

    func table(_ index: Int, _ name: String) throws(NVDLALoadableError) -> FlatBufferTable? {
        guard let target = try referenced(index, name) else { return nil }
        return try reader.table(at: target, "\(path).\(name)")
    }

    /// A vector of integers, copied out.
    func scalars<T: FixedWidthInteger>(_ index: Int, _ name: String, as type: T.Type = T.self) throws(NVDLALoadableError) -> [T]? {
        guard let target = try referenced(index, name) else { return nil }
        let size = MemoryLayout<T>.size
        let field = "\(path).\(name)"
        let (start, count) = try reader.vector(at: target, elementSize: size, elementAlignment: FlatBufferReader.alignment(ofSize: size), field)
        try reader.charge(count * size, field, target)
        var values: [T] = []
        values.reserveCapacity(count)
        for element in 0..<count {
            values.append(try reader.load(T.self, at: start + element * size, "\(field)[\(element)]"))
        }
        return values
    }

    /// A vector of bytes, as a slice of the reader's buffer (no copy).
    func bytes(_ index: Int, _ name: String) throws(NVDLALoadableError) -> ArraySlice<UInt8>? {
        guard let target = try referenced(index, name) else { return nil }
        let (start, count) = try reader.vector(at: target, elementSize: 1, elementAlignment: 1, "\(path).\(name)")
        return reader.bytes[start..<start + count]
    }

    func strings(_ index: Int, _ name: String) throws(NVDLALoadableError) -> [String]? {
        try elements(index, name) { position, field throws(NVDLALoadableError) in try reader.string(at: position, field) }
    }

    func tables(_ index: Int, _ name: String) throws(NVDLALoadableError) -> [FlatBufferTable]? {
        try elements(index, name) { position, field throws(NVDLALoadableError) in try reader.table(at: position, field) }
    }

    /// A vector of offsets to strings or tables, each element followed and decoded.
    private func elements<T>(_ index: Int, _ name: String, _ decode: (Int, String) throws(NVDLALoadableError) -> T) throws(NVDLALoadableError) -> [T]? {
        guard let target = try referenced(index, name) else { return nil }
        let field = "\(path).\(name)"
        let (start, count) = try reader.vector(at: target, elementSize: 4, elementAlignment: 4, field)
        var values: [T] = []
        values.reserveCapacity(count)
        for element in 0..<count {
            let elementField = "\(field)[\(element)]"
            values.append(try decode(try reader.offsetTarget(at: start + element * 4, elementField), elementField))
        }
        return values
    }

    /// The target of an offset field (string, vector or table), `nil` when absent.
    private func referenced(_ index: Int, _ name: String) throws(NVDLALoadableError) -> Int? {
        guard let at = try fieldPosition(index, name, size: 4, alignment: 4) else { return nil }
        return try reader.offsetTarget(at: at, "\(path).\(name)")
    }
}
