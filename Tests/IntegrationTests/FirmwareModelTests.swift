import Crypto
import DLAEngine
import DLAFormat
import Foundation
import Testing

/// The shipped firmware models (firmware-models/manifest.json): each file is the one the manifest
/// names (SHA-256), reproduces its samples' expected outputs bit for bit through `dlactl run`,
/// and passes the self-test vectors it carries.
@Suite struct FirmwareModelTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("firmware-models").path

    struct Manifest: Decodable {
        struct Model: Decodable {
            var name: String
            var file: String
            var sha256: String
            var samples: String
            var expectedOutputs: String
        }
        var models: [Model]
    }

    static func manifest() throws -> Manifest {
        try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/manifest.json")))
    }

    @Test func everyShippedModelReproducesItsSamplesBitForBit() throws {
        let models = try Self.manifest().models
        #expect(models.count >= 4)
        let scratch = try TemporaryDirectory()
        for model in models {
            let path = Self.directory + "/" + model.file
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined() == model.sha256, "\(model.file)")
            let output = scratch.file(model.name + ".npy")
            let run = try Executables.run("dlactl", ["run", path, "--input", Self.directory + "/" + model.samples, "--output", output])
            #expect(run.status == 0, "\(run.stderr)")
            let expected = try Data(contentsOf: URL(fileURLWithPath: Self.directory + "/" + model.expectedOutputs))
            #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == expected, "\(model.file) differs from \(model.expectedOutputs)")

            let loaded = try DLAFile.read([UInt8](bytes))
            #expect(!loaded.selfTests.isEmpty, "\(model.file) carries no self-test vectors")
            let failures = try SelfTestVectors.verify(try ModelAdapter.compile(loaded), profile: .nvFull, tests: loaded.selfTests)
            #expect(failures.isEmpty, "\(model.file): \(failures)")
        }
    }
}
