#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Testing
@testable import DLAFormat

@Suite struct SummaryTests {
    @Test func totalsAndJSONKeys() throws {
        let weights = ModelFixtures.sparseInt8(count: 300 * 80, density: 0.1, distinct: 16)
        var model = ModelFixtures.defaultModel()
        model.weights[0] = DLAWeightTensor(name: "fc1.weight", shape: [300, 80], values: .int8(weights),
                                           quantization: .perChannel(axis: 0, scales: [Float](repeating: 0.01, count: 300),
                                                                     zeroPoints: [Int32](repeating: 0, count: 300)))
        let bytes = try DLAFile.write(model, environment: [:])
        let loaded = try DLAFile.read(bytes)
        let summary = DLAModelSummary(loaded)
        let payloads = loaded.weights.reduce(0) { $0 + $1.storedBytes }
        #expect(summary.parameterBytes == payloads + 8 * 300)
        #expect(summary.fp32Bytes == 4 * (300 * 80 + 3))
        #expect(summary.compressionRatio == Double(summary.fp32Bytes) / Double(summary.parameterBytes))
        #expect(summary.compressionRatio > 4)
        #expect(summary.fileBytes == bytes.count)
        #expect(summary.version == 3)
        #expect(summary.ops.count == 2)
        #expect(summary.ops[0].weights == [0, 1])
        #expect(summary.ops[0].encoding == loaded.weights[0].encoding.description)
        #expect(summary.ops[1].storedBytes == 0 && summary.ops[1].unit == "cpu")
        #expect(abs(summary.ops[0].density - Double(loaded.weights[0].nonzeroCount + 2) / Double(300 * 80 + 3)) < 1e-12)

        let json = summary.jsonString()
        for key in ["name", "precision", "profile", "inputs", "outputs", "ops", "parameterBytes", "fileBytes",
                    "compressionRatio", "version", "signature", "sha256", "fp32Bytes", "tensors"] {
            #expect(json.contains("\n  \"\(key)\" : "), "missing top-level key \(key)")
        }
        let decoded = try JSONDecoder().decode(DLAModelSummary.self, from: Data(summary.jsonString().utf8))
        #expect(decoded == summary)
    }
}
