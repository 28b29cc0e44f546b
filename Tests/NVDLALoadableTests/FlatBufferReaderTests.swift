@testable import NVDLALoadable
import Testing

/// The flatbuffers layer on a buffer laid out by hand, byte by byte, and on corruptions of it.
@Suite struct FlatBufferReaderTests {
    /// A root table with one field of every kind the loadable schema uses:
    /// `a: uint; name: string; items: [Item]; values: [ushort]; child: Item; data: [ubyte];
    /// ver: Version (struct of 3 ubytes); names: [string]; big: ulong`, and `Item { id: ushort }`.
    /// `child` and `items[0]` share one table, as flatbuffers may share.
    static func sample() -> HandBuffer {
        var b = HandBuffer(count: 184)
        b.put(UInt32(48), at: 0)                       // root table at 48
        for (index, value) in [22, 48, 4, 8, 12, 16, 20, 24, 28, 32, 40].enumerated() {
            b.put(UInt16(value), at: 4 + 2 * index)    // Root's vtable at 4: size, inline size, 9 field offsets
        }
        for (index, value) in [6, 8, 4].enumerated() { b.put(UInt16(value), at: 28 + 2 * index) } // Item's vtable at 28
        b.put(Int32(48 - 4), at: 48)                   // Root: soffset to its vtable
        b.put(UInt32(0xCAFE_BABE), at: 52)             // a
        b.put(UInt32(96 - 56), at: 56)                 // name → 96
        b.put(UInt32(108 - 60), at: 60)                // items → 108
        b.put(UInt32(136 - 64), at: 64)                // values → 136
        b.put(UInt32(120 - 68), at: 68)                // child → the Item at 120
        b.put(UInt32(148 - 72), at: 72)                // data → 148
        b.bytes.replaceSubrange(76..<79, with: [1, 2, 3]) // ver
        b.put(UInt32(156 - 80), at: 80)                // names → 156
        b.put(UInt64(0x0102_0304_0506_0708), at: 88)   // big
        b.put("hello", at: 96)
        b.put(UInt32(2), at: 108)                      // items: 2 offsets
        b.put(UInt32(120 - 112), at: 112)
        b.put(UInt32(128 - 116), at: 116)
        b.put(Int32(120 - 28), at: 120)                // Item at 120, id 7
        b.put(UInt16(7), at: 124)
        b.put(Int32(128 - 28), at: 128)                // Item at 128, id 9
        b.put(UInt16(9), at: 132)
        b.put(UInt32(3), at: 136)                      // values: [1, 2, 3]
        for (index, value) in [1, 2, 3].enumerated() { b.put(UInt16(value), at: 140 + 2 * index) }
        b.put(UInt32(4), at: 148)                      // data: DE AD BE EF
        b.bytes.replaceSubrange(152..<156, with: [0xDE, 0xAD, 0xBE, 0xEF])
        b.put(UInt32(2), at: 156)                      // names: "x", "yz"
        b.put(UInt32(168 - 160), at: 160)
        b.put(UInt32(176 - 164), at: 164)
        b.put("x", at: 168)
        b.put("yz", at: 176)
        return b
    }

    /// Every field of the sample, read through the reader.
    struct Decoded: Equatable {
        var a: UInt32
        var name: String?
        var itemIDs: [UInt16]
        var values: [UInt16]?
        var childID: UInt16?
        var data: [UInt8]?
        var version: [UInt8]?
        var names: [String]?
        var big: UInt64
        var absent: UInt32
    }

    static func decode(_ bytes: [UInt8], budget: Int? = nil, maximumTables: Int = 1_000_000) throws(NVDLALoadableError) -> Decoded {
        let reader = try FlatBufferReader(bytes, decodedByteBudget: budget, maximumTables: maximumTables)
        let root = try reader.root("root")
        var itemIDs: [UInt16] = []
        for item in try root.tables(2, "items") ?? [] { itemIDs.append(try item.scalar(0, "id")) }
        return Decoded(a: try root.scalar(0, "a"),
                       name: try root.string(1, "name"),
                       itemIDs: itemIDs,
                       values: try root.scalars(3, "values"),
                       childID: try root.table(4, "child")?.scalar(0, "id"),
                       data: try root.bytes(5, "data").map(Array.init),
                       version: try root.structBytes(6, "ver", size: 3, alignment: 1).map(Array.init),
                       names: try root.strings(7, "names"),
                       big: try root.scalar(8, "big"),
                       absent: try root.scalar(9, "beyond the vtable"))
    }

    @Test func readsEveryKindOfField() throws {
        let decoded = try Self.decode(Self.sample().bytes)
        #expect(decoded == Decoded(a: 0xCAFE_BABE, name: "hello", itemIDs: [7, 9], values: [1, 2, 3], childID: 7,
                                   data: [0xDE, 0xAD, 0xBE, 0xEF], version: [1, 2, 3], names: ["x", "yz"],
                                   big: 0x0102_0304_0506_0708, absent: 0))
    }

    @Test func absentFieldsReadAsTheirDefaults() throws {
        var b = Self.sample()
        b.put(UInt16(0), at: 8)   // a's vtable slot
        b.put(UInt16(0), at: 10)  // name's
        b.put(UInt16(0), at: 14)  // values'
        let decoded = try Self.decode(b.bytes)
        #expect(decoded.a == 0)
        #expect(decoded.name == nil)
        #expect(decoded.values == nil)
        #expect(decoded.big == 0x0102_0304_0506_0708)
    }

    /// One corruption each of what the flatbuffers Verifier checks, and of what this reader adds.
    enum Corruption: String, CaseIterable, Sendable {
        case shortBuffer, rootPastTheEnd, misalignedTable, vtableOutside, oddVtableSize, tablePastTheEnd
        case fieldPastTheEnd, fieldOverlappingTheTableStart, misalignedField, stringWithoutNUL, invalidUTF8, vectorPastTheEnd, offsetZero, elementPastTheEnd

        func apply(to b: inout HandBuffer) {
            switch self {
            case .shortBuffer: b.bytes.removeLast(b.bytes.count - 6)
            case .rootPastTheEnd: b.put(UInt32(1000), at: 0)
            case .misalignedTable: b.put(UInt32(50), at: 0)
            case .vtableOutside: b.put(Int32(-5000), at: 48)
            case .oddVtableSize: b.put(UInt16(21), at: 4)
            case .tablePastTheEnd: b.put(UInt16(200), at: 6)
            case .fieldPastTheEnd: b.put(UInt16(140), at: 24)   // big's vtable slot: 48 + 140 + 8 > 184
            case .fieldOverlappingTheTableStart: b.put(UInt16(2), at: 8)  // a's slot
            case .misalignedField: b.put(UInt16(38), at: 24)
            case .stringWithoutNUL: b.bytes[105] = 0x21
            case .invalidUTF8: b.bytes[100] = 0xFF
            case .vectorPastTheEnd: b.put(UInt32(0x7FFF_FFFF), at: 136)
            case .offsetZero: b.put(UInt32(0), at: 56)
            case .elementPastTheEnd: b.put(UInt32(1000), at: 112)
            }
        }

        var expected: (kind: NVDLALoadableError.Kind, message: String) {
            switch self {
            case .shortBuffer: (.truncated, "at least 8 bytes")
            case .rootPastTheEnd: (.truncated, "past the end")
            case .misalignedTable: (.malformed, "not aligned")
            case .vtableOutside: (.malformed, "vtable at 5048")
            case .oddVtableSize: (.malformed, "vtable size 21")
            case .tablePastTheEnd: (.malformed, "table size 200")
            case .fieldPastTheEnd: (.malformed, "reaches past the end of the buffer")
            case .fieldOverlappingTheTableStart: (.malformed, "overlaps the table's start")
            case .misalignedField: (.malformed, "not aligned to 4")
            case .stringWithoutNUL: (.malformed, "no NUL")
            case .invalidUTF8: (.malformed, "UTF-8")
            case .vectorPastTheEnd: (.truncated, "reach past the end")
            case .offsetZero: (.malformed, "offset 0")
            case .elementPastTheEnd: (.truncated, "past the end")
            }
        }
    }

    @Test(arguments: Corruption.allCases)
    func corruptionIsAClearError(_ corruption: Corruption) {
        var b = Self.sample()
        corruption.apply(to: &b)
        let error = #expect(throws: NVDLALoadableError.self) { try Self.decode(b.bytes) }
        #expect(error?.kind == corruption.expected.kind, "\(String(describing: error))")
        #expect(error?.description.contains(corruption.expected.message) == true, "\(String(describing: error))")
    }

    @Test func errorsNameTheFieldAndTheByte() {
        var b = Self.sample()
        b.bytes[105] = 0x21
        let error = #expect(throws: NVDLALoadableError.self) { try Self.decode(b.bytes) }
        #expect(error?.description == "root.name: string of 5 bytes has no NUL terminator at byte 105")
    }

    /// Shared vectors and strings cannot make a small buffer decode into a large one.
    @Test func decodingIsBounded() {
        let budget = #expect(throws: NVDLALoadableError.self) { try Self.decode(Self.sample().bytes, budget: 20) }
        #expect(budget?.kind == .limitExceeded)
        let tables = #expect(throws: NVDLALoadableError.self) { try Self.decode(Self.sample().bytes, maximumTables: 2) }
        #expect(tables?.kind == .limitExceeded)
        #expect(throws: Never.self) { try Self.decode(Self.sample().bytes, budget: 64, maximumTables: 4) }
    }

    /// Every truncation and every byte set to a handful of values: each either decodes or throws
    /// (a crash or an out-of-bounds read would end the test process).
    @Test func everyMutationDecodesOrThrows() {
        let sample = Self.sample().bytes
        var outcomes = (decoded: 0, thrown: 0)
        func attempt(_ bytes: [UInt8]) {
            do {
                _ = try Self.decode(bytes)
                outcomes.decoded += 1
            } catch {
                outcomes.thrown += 1
            }
        }
        for length in 0..<sample.count { attempt(Array(sample.prefix(length))) }
        for index in sample.indices {
            for value: UInt8 in [0x00, 0x01, 0x7F, 0x80, 0xFF] where sample[index] != value {
                var mutated = sample
                mutated[index] = value
                attempt(mutated)
            }
        }
        #expect(outcomes.thrown > sample.count, "truncations alone must all throw")
        #expect(outcomes.decoded > 0, "mutations of padding bytes still decode")
    }
}
