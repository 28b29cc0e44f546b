import Testing
@testable import DLAFormat

/// The fast path for numpy's own header spelling must read exactly what the general parser reads,
/// and must leave every other spelling (and every malformed header) to it.
struct NPYCanonicalHeaderTests {
    private static func generalReading(_ bytes: [UInt8]) -> NPYHeader? {
        try? NPYHeader(parsingLiteral: bytes[...], utf8: false)
    }

    @Test func readsEveryHeaderNumpyWritesAsTheGeneralParserDoes() {
        var generator = SystemRandomNumberGenerator()
        var shapes: [[Int]] = [[], [0], [1], [7], [1, 784], [64, 784], [1, 3, 224, 224], [123_456_789_012_345_678], Array(repeating: 1, count: 64)]
        for _ in 0..<300 {
            shapes.append((0..<Int.random(in: 1...6, using: &generator)).map { _ in Int.random(in: 0...100_000, using: &generator) })
        }
        for dtype in NPYDType.allCases {
            for shape in shapes {
                let encoded = NPYHeader(dtype: dtype, shape: shape).encoded(version: .v1_0)
                let fast = NPYHeader.canonical(encoded[...])
                #expect(fast != nil, "numpy's spelling of \(dtype) \(shape) missed the fast path")
                #expect(fast == Self.generalReading(encoded), "\(dtype) \(shape)")
            }
        }
    }

    @Test(arguments: [
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}\n",
        "{'shape': (3,), 'fortran_order': False, 'descr': '<f4'}\n",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3, ), }                      \n",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3), }                      \n",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3,), }                      \n",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (01,), }                      \n",
        "{'descr': '<f4', 'fortran_order': True, 'shape': (3,), }                      \n",
        "{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }                      \n",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }                      \r\n",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }                      x\n",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1234567890123456789012,), }\n",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
    ])
    func leavesOtherSpellingsToTheGeneralParser(header: String) {
        #expect(NPYHeader.canonical(Array(header.utf8)[...]) == nil)
    }

    /// Every single-byte corruption of a canonical header: the fast path either declines it or
    /// reads what the general parser reads.
    @Test func neverDisagreesWithTheGeneralParserOnCorruptedHeaders() {
        let encoded = NPYHeader(dtype: .float32, shape: [2, 784]).encoded(version: .v1_0)
        let replacements: [UInt8] = [0x20, 0x27, 0x28, 0x29, 0x2C, 0x30, 0x39, 0x0A, 0x7D, 0x00]
        for index in encoded.indices {
            for byte in replacements where byte != encoded[index] {
                var corrupted = encoded
                corrupted[index] = byte
                if let fast = NPYHeader.canonical(corrupted[...]) {
                    #expect(fast == Self.generalReading(corrupted), "byte \(index) set to \(byte)")
                }
            }
        }
    }
}
