import Testing
@testable import DLAFormat

struct NPYErrorTests {
    static func header(descr: String = "'<f4'", fortranOrder: String = "False", shape: String = "(2,)") -> String {
        "{'descr': \(descr), 'fortran_order': \(fortranOrder), 'shape': \(shape), }\n"
    }

    @Test func badMagic() {
        #expect(throws: NPYError.badMagic(found: [0x50, 0x4B, 0x03, 0x04, 0, 0])) { try NPY.read([0x50, 0x4B, 0x03, 0x04, 0, 0, 0, 0]) }
        #expect(throws: NPYError.badMagic(found: [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x58])) {
            try NPY.read([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x58, 1, 0, 0, 0])
        }
    }

    @Test func truncatedHeader() {
        let full = npyBytes(header: Self.header(), data: [UInt8](repeating: 0, count: 8))
        #expect(throws: NPYError.truncatedHeader(needed: 8, available: 0)) { try NPY.read([]) }
        #expect(throws: NPYError.truncatedHeader(needed: 8, available: 4)) { try NPY.read(Array(full.prefix(4))) }
        #expect(throws: NPYError.truncatedHeader(needed: 10, available: 9)) { try NPY.read(Array(full.prefix(9))) }
        #expect(throws: NPYError.truncatedHeader(needed: 12, available: 11)) {
            try NPY.read(Array(npyBytes(header: Self.header(), major: 2).prefix(11)))
        }
        let headerEnd = 10 + Self.header().utf8.count
        #expect(throws: NPYError.truncatedHeader(needed: headerEnd, available: headerEnd - 1)) {
            try NPY.read(Array(full.prefix(headerEnd - 1)))
        }
    }

    @Test func unsupportedVersion() {
        #expect(throws: NPYError.unsupportedVersion(major: 4, minor: 0)) { try NPY.read(npyBytes(header: Self.header(), major: 4)) }
        #expect(throws: NPYError.unsupportedVersion(major: 1, minor: 1)) { try NPY.read(npyBytes(header: Self.header(), minor: 1)) }
        #expect(throws: NPYError.unsupportedVersion(major: 0, minor: 0)) { try NPY.read(npyBytes(header: Self.header(), major: 0)) }
    }

    @Test func headerTooLong() {
        // Only the declared length is checked: nothing is allocated or read for it.
        let bytes: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 2, 0, 0x01, 0x00, 0x01, 0x00]
        #expect(throws: NPYError.headerTooLong(length: 65537, limit: 65536)) { try NPY.read(bytes) }
        let huge: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 3, 0, 0xFF, 0xFF, 0xFF, 0xFF]
        #expect(throws: NPYError.headerTooLong(length: 0xFFFF_FFFF, limit: 65536)) { try NPY.read(huge) }
    }

    @Test(arguments: [
        ("'descr': '<f4'", "expected '{' at byte 0, found '''"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", "expected ',' at byte 54, found the end of the header"),
        ("{'descr': '<f4}", "unterminated string starting at byte 10"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x", "unexpected text after the dict at byte 56"),
        ("{3: 4}", "dict keys must be strings (at byte 2)"),
        ("{'descr': '<f\\x34'}", "escape sequences in strings are not supported (at byte 13)"),
        ("{'descr': '<f4', 'descr': '<f4'}", "duplicate key 'descr'"),
        ("{'shape': ((((((((((1,),),),),),),),),),)}", "nesting deeper than 8 levels"),
        ("{'descr': <f4}", "unexpected character '<' at byte 10"),
        ("{'shape': (-,)}", "'-' without digits at byte 11"),
        ("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}", "'fortran_order' must be True or False, found 0"),
        ("{'descr': None, 'fortran_order': False, 'shape': (2,)}", "'descr' must be a string, found None"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (2)}", "'shape' must be a tuple, found 2"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': [2]}", "'shape' must be a tuple, found [2]"),
    ])
    func malformedHeader(header: String, reason: String) {
        #expect(throws: NPYError.malformedHeader(reason: reason)) { try NPY.read(npyBytes(header: header)) }
    }

    @Test func nonUTF8StringInVersion3() {
        var bytes = npyBytes(header: "{'descr': '<f4\u{E9}'}", major: 3)
        bytes[bytes.count - 4] = 0xFF  // replace half of the é with an invalid UTF-8 byte
        #expect(throws: NPYError.malformedHeader(reason: "string at byte 10 is not valid UTF-8")) { try NPY.read(bytes) }
    }

    @Test func keys() {
        #expect(throws: NPYError.missingKey("shape")) { try NPY.read(npyBytes(header: "{'descr': '<f4', 'fortran_order': False}")) }
        #expect(throws: NPYError.missingKey("descr")) { try NPY.read(npyBytes(header: "{'fortran_order': False, 'shape': ()}")) }
        #expect(throws: NPYError.missingKey("fortran_order")) { try NPY.read(npyBytes(header: "{'descr': '<f4', 'shape': ()}")) }
        #expect(throws: NPYError.unexpectedKey("align")) {
            try NPY.read(npyBytes(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (), 'align': True}"))
        }
    }

    @Test func dtypes() {
        #expect(throws: NPYError.unsupportedDType("<c8")) { try NPY.read(npyBytes(header: Self.header(descr: "'<c8'"))) }
        #expect(throws: NPYError.unsupportedDType("<u2")) { try NPY.read(npyBytes(header: Self.header(descr: "'<u2'"))) }
        #expect(throws: NPYError.unsupportedDType("<U3")) { try NPY.read(npyBytes(header: Self.header(descr: "'<U3'"))) }
        #expect(throws: NPYError.bigEndian(">i8")) { try NPY.read(npyBytes(header: Self.header(descr: "'>i8'"))) }
        #expect(throws: NPYError.objectArray("|O")) { try NPY.read(npyBytes(header: Self.header(descr: "'|O'"))) }
        #expect(throws: NPYError.structuredDType) {
            try NPY.read(npyBytes(header: Self.header(descr: "[('x', '<f4'), ('y', '<i4')]")))
        }
        #expect(throws: NPYError.fortranOrder) { try NPY.read(npyBytes(header: Self.header(fortranOrder: "True"))) }
    }

    @Test func shapes() {
        #expect(throws: NPYError.invalidShape(reason: "negative dimension -2")) { try NPY.read(npyBytes(header: Self.header(shape: "(3, -2)"))) }
        #expect(throws: NPYError.invalidShape(reason: "dimension 99999999999999999999 does not fit in 64 bits")) {
            try NPY.read(npyBytes(header: Self.header(shape: "(99999999999999999999,)")))
        }
        #expect(throws: NPYError.invalidShape(reason: "dimension '2' is not an integer")) {
            try NPY.read(npyBytes(header: Self.header(shape: "('2',)")))
        }
        let tooMany = "(" + Array(repeating: "1", count: 65).joined(separator: ", ") + ")"
        #expect(throws: NPYError.invalidShape(reason: "65 dimensions (numpy allows at most 64)")) {
            try NPY.read(npyBytes(header: Self.header(shape: tooMany)))
        }
        #expect(throws: NPYError.shapeOverflow(shape: [1 << 40, 1 << 40])) {
            try NPY.read(npyBytes(header: Self.header(shape: "(\(1 << 40), \(1 << 40))")))
        }
        // Fits as an element count, overflows as a byte count.
        #expect(throws: NPYError.shapeOverflow(shape: [1 << 62])) {
            try NPY.read(npyBytes(header: Self.header(shape: "(\(1 << 62),)")))
        }
    }

    @Test func dataLength() {
        #expect(throws: NPYError.truncatedData(expectedBytes: 8, availableBytes: 7)) {
            try NPY.read(npyBytes(header: Self.header(), data: [UInt8](repeating: 0, count: 7)))
        }
        #expect(throws: NPYError.truncatedData(expectedBytes: 4 << 40, availableBytes: 0)) {
            try NPY.read(npyBytes(header: Self.header(shape: "(\(1 << 40),)")))
        }
        #expect(throws: NPYError.trailingData(expectedBytes: 8, availableBytes: 9)) {
            try NPY.read(npyBytes(header: Self.header(), data: [UInt8](repeating: 0, count: 9)))
        }
    }

    @Test func fileErrorsCarryTheSystemReason() throws {
        #expect(throws: NPYError.io(path: "/nonexistent-dlad-dir/x.npy", reason: "cannot read: No such file or directory")) {
            try NPY.read(path: "/nonexistent-dlad-dir/x.npy")
        }
        let array = try NPYArray(uint8: [1], shape: [1])
        #expect(throws: NPYError.io(path: "/nonexistent-dlad-dir/y.npy", reason: "cannot write: No such file or directory")) {
            try NPY.write(array, path: "/nonexistent-dlad-dir/y.npy")
        }
    }

    @Test func messagesNameExpectedAndFound() {
        #expect(NPYError.unsupportedDType("<c8").description
            == "npy: unsupported dtype '<c8' (supported: <f4, <f8, <f2, |i1, |u1, <i4, <i8)")
        #expect(NPYError.truncatedData(expectedBytes: 8, availableBytes: 7).description
            == "npy: truncated data: shape and dtype need 8 bytes, found 7")
        #expect(NPYError.bigEndian(">f4").description.contains("astype('<f4')"))
        #expect(NPYError.unsupportedVersion(major: 9, minor: 1).description.contains("9.1"))
    }
}
