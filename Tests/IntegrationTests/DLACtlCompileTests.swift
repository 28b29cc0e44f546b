import DLAFormat
import Foundation
import Testing

/// `dlactl compile` as a user runs it: on the committed ONNX fixtures, with the report on stdout,
/// one-line errors on stderr, and nothing written when it fails.
@Suite struct DLACtlCompileTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path

    @Test func compilesAQuantizedModelAndReports() throws {
        let directory = try TemporaryDirectory()
        let output = directory.path + "/mlp.dla"
        let key = directory.path + "/signer.key"
        #expect(try Executables.run("dlactl", ["keygen", "-o", key]).status == 0)
        let result = try Executables.run("dlactl", ["compile", Self.fixtures + "/models/mlp-int8-qdq.onnx", "-o", output, "--name", "mlp",
                                                    "--prune", "0.9", "--share-bits", "5", "--sign", key, "--version", "3"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("fc0 "))
        #expect(result.stdout.contains("total:"))
        #expect(result.stdout.contains("CPU fallback: none"))
        let loaded = try DLAFile.read([UInt8](try Data(contentsOf: URL(fileURLWithPath: output))))
        #expect(loaded.metadata.name == "mlp")
        #expect(loaded.metadata.modelVersion == 3)
        if case .valid = loaded.signature {} else { Issue.record("signature is \(loaded.signature)") }
        #expect(DLAModelSummary(loaded).compressionRatio > 15)
    }

    @Test func validationGuardsTheAccuracyDrop() throws {
        let directory = try TemporaryDirectory()
        let output = directory.path + "/mlp.dla"
        let images = Self.fixtures + "/data/mnist-test-300.images-flat.npy", labels = Self.fixtures + "/data/mnist-test-300.labels.npy"
        let kept = try Executables.run("dlactl", ["compile", Self.fixtures + "/models/mlp-int8-qdq.onnx", "-o", output,
                                                  "--share-bits", "6", "--validate", images, labels])
        #expect(kept.status == 0, "\(kept.stderr)")
        #expect(kept.stdout.contains("top-1 on"))
        let refused = try Executables.run("dlactl", ["compile", Self.fixtures + "/models/mlp-int8-qdq.onnx", "-o", directory.path + "/pruned.dla",
                                                     "--prune", "0.99", "--validate", images, labels])
        #expect(refused.status == 1)
        #expect(refused.stderr.hasPrefix("error: compression drops top-1"))
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/pruned.dla"))
    }

    @Test(arguments: ["bad-garbage", "bad-unsupported-op", "bad-inconsistent-shapes"])
    func badModelsAreOneLineErrors(_ name: String) throws {
        let directory = try TemporaryDirectory()
        let result = try Executables.run("dlactl", ["compile", Self.fixtures + "/models/\(name).onnx", "-o", directory.path + "/x.dla", "--precision", "fp16"])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("error: "))
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/x.dla"))
    }
}
