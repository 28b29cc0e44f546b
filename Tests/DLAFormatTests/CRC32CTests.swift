import Testing
@testable import DLAFormat

@Suite struct CRC32CTests {
    @Test func standardCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.referenceChecksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([]) == 0)
    }

    /// The slicing-by-8 tables agree with the bit-at-a-time definition on every length and
    /// alignment up to a few blocks.
    @Test func slicedAgreesWithReference() {
        var random = ModelFixtures.Random(state: 7)
        let data = (0..<300).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        for start in 0..<9 {
            for end in start...data.count where (end - start) % 7 == 0 || end - start < 20 {
                let slice = Array(data[start..<end])
                #expect(CRC32C.checksum(data, range: start..<end) == CRC32C.referenceChecksum(slice))
            }
        }
    }
}
