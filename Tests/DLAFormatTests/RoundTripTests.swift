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

    @Test func modelWithoutWeightsOrSelfTests() throws {
        var model = ModelFixtures.model(weights: [])
        model.graph.operations[0].attributes.removeAll { if case .weight = $0.value { true } else { false } }
        let bytes = try DLAFile.write(model, environment: [:])
        #expect(FileSurgery.sections(bytes).map(\.kind) == [1, 2, 3])
        let loaded = try DLAFile.read(bytes)
        #expect(loaded.weights.isEmpty && loaded.selfTests.isEmpty)
        #expect(DLAModelSummary(loaded).compressionRatio == 0)
        #expect(DLAModel(loaded) == model)
    }

    @Test func loadedModelRewritesToTheSameBytes() throws {
        let bytes = try DLAFile.write(ModelFixtures.defaultModel(), environment: [:])
        #expect(try DLAFile.write(DLAModel(try DLAFile.read(bytes)), environment: [:]) == bytes)
    }
}
