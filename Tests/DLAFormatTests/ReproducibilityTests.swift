import Testing
@testable import DLAFormat

@Suite struct ReproducibilityTests {
    @Test func sameInputSameBytes() throws {
        let model = ModelFixtures.defaultModel()
        let first = try DLAFile.write(model, environment: [:])
        let second = try DLAFile.write(model, environment: [:])
        #expect(first == second)
        #expect(try DLAFile.read(first).digest == DLAFile.sha256(first, upTo: first.count - DLAFileLayout.trailerSize))
    }

    @Test func sourceDateEpochOverridesCreatedAt() throws {
        var a = ModelFixtures.defaultModel()
        var b = a
        a.metadata.createdAt = 1
        b.metadata.createdAt = 2
        let environment = ["SOURCE_DATE_EPOCH": "1234567890"]
        let bytesA = try DLAFile.write(a, environment: environment)
        #expect(bytesA == (try DLAFile.write(b, environment: environment)))
        #expect(try DLAFile.read(bytesA).metadata.createdAt == 1_234_567_890)
        #expect(try DLAFile.read(try DLAFile.write(a, environment: [:])).metadata.createdAt == 1)
        #expect(throws: DLAFormatError.self) { try DLAFile.write(a, environment: ["SOURCE_DATE_EPOCH": "yesterday"]) }
    }

    @Test func layoutIsAligned() throws {
        let bytes = try DLAFile.write(ModelFixtures.defaultModel(), environment: [:])
        let sections = FileSurgery.sections(bytes)
        #expect(sections.map(\.kind) == [1, 2, 3, 4])
        #expect(sections.allSatisfy { $0.offset % 64 == 0 })
        #expect((bytes.count - DLAFileLayout.trailerSize) % 64 == 0)
        let weights = try #require(FileSurgery.section(bytes, kind: .weights))
        // The first tensor's payload offset (after name, 5 descriptor bytes, dims, quantization).
        let nameLength = Int(FileSurgery.u32(bytes, at: weights.offset + 4))
        let payloadField = weights.offset + 4 + 4 + nameLength + 1 + 4 + 2 * 8 + 1 + 4 + 4 + 3 * 8
        #expect(FileSurgery.u64(bytes, at: payloadField) % 64 == 0)
        #expect(bytes.prefix(8).elementsEqual([0x89, 0x44, 0x4C, 0x41, 0x0D, 0x0A, 0x1A, 0x0A]))
    }
}
