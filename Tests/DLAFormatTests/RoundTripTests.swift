import Testing
@testable import DLAFormat

@Suite struct RoundTripTests {
    @Test func wholeModelRoundTrips() throws {
        let model = ModelFixtures.defaultModel()
        let bytes = try DLAFile.write(model, environment: ModelFixtures.noEnvironment)
        let loaded = try DLAFile.read(bytes)
        #expect(loaded.metadata == model.metadata)
        #expect(loaded.graph == model.graph)
        #expect(loaded.selfTests == model.selfTests)
        #expect(loaded.weights.map(\.values) == model.weights.map(\.values))
        #expect(loaded.weights.map(\.quantization) == model.weights.map(\.quantization))
        #expect(loaded.signature == .unsigned)
        #expect(loaded.fileBytes == bytes.count)
        #expect(loaded.formatVersion == .current)
    }
}
