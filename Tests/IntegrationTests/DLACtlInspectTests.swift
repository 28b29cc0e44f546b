import DLAFormat
import Foundation
import Testing

/// `dlactl inspect` and `keygen`, run as processes on files written here.
@Suite struct DLACtlInspectTests {
    /// A 90 %-sparse 300×784 INT8 layer and a small dense one: enough to make the per-op table,
    /// the encodings chosen and the compression ratio mean something.
    static func model() -> DLAModel {
        var state: UInt64 = 42
        func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 33
        }
        let fc1 = (0..<(300 * 784)).map { _ in next() % 10 == 0 ? Int8(truncatingIfNeeded: Int(next() % 255) - 127) : 0 }
        let fc2 = (0..<(10 * 300)).map { _ in Int8(truncatingIfNeeded: Int(next() % 255) - 127) }
        let input = DLATensorSpec(name: "image", shape: [-1, 784], dataType: .int8, quantization: .perTensor(scale: 1.0 / 255, zeroPoint: -128))
        let hidden = DLATensorSpec(name: "hidden", shape: [-1, 300], dataType: .int8, quantization: .perTensor(scale: 0.05, zeroPoint: -128))
        let logits = DLATensorSpec(name: "logits", shape: [-1, 10], dataType: .int8, quantization: .perTensor(scale: 0.2, zeroPoint: 0))
        let metadata = DLAMetadata(name: "lenet-test", description: "inspect fixture", producer: "IntegrationTests",
                                   createdAt: 1_700_000_000, targetProfile: "nv_full", precision: "int8", modelVersion: 4,
                                   inputs: [input], outputs: [logits])
        let weights = [
            DLAWeightTensor(name: "fc1.weight", shape: [300, 784], values: .int8(fc1),
                            quantization: .perChannel(axis: 0, scales: [Float](repeating: 0.01, count: 300), zeroPoints: [Int32](repeating: 0, count: 300))),
            DLAWeightTensor(name: "fc1.bias", shape: [300], values: .int32((0..<300).map { Int32($0) - 150 })),
            DLAWeightTensor(name: "fc2.weight", shape: [10, 300], values: .int8(fc2), quantization: .perTensor(scale: 0.02, zeroPoint: 0)),
            DLAWeightTensor(name: "fc2.bias", shape: [10], values: .int32([Int32](repeating: 7, count: 10))),
        ]
        let graph = DLAGraph(tensors: [input, hidden, logits], inputs: [0], outputs: [2], operations: [
            DLAOperation(name: "fc1", unit: .convolution, type: "fc", inputs: [0], outputs: [1],
                         attributes: [DLAAttribute("weight", .weight(0)), DLAAttribute("bias", .weight(1)), DLAAttribute("activation", .string("relu"))]),
            DLAOperation(name: "fc2", unit: .convolution, type: "fc", inputs: [1], outputs: [2],
                         attributes: [DLAAttribute("weight", .weight(2)), DLAAttribute("bias", .weight(3))]),
        ])
        return DLAModel(metadata: metadata, graph: graph, weights: weights)
    }

    @Test func printsTheTableAndTotals() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("model.dla")
        try Data(try DLAFile.write(Self.model(), environment: [:])).write(to: URL(fileURLWithPath: path))

        let result = try Executables.run("dlactl", ["inspect", path])
        #expect(result.status == 0, "\(result.stderr)")
        let text = result.stdout
        #expect(text.contains("model       lenet-test (version 4)"))
        #expect(text.contains("profile     nv_full    precision int8"))
        #expect(text.contains("signature   unsigned"))
        #expect(text.contains("input       image: int8 [N×784]"))
        let fc1 = try #require(text.split(separator: "\n").first { $0.hasPrefix("0 ") || $0.hasPrefix("0  ") })
        #expect(fc1.contains("fc1") && fc1.contains("convolution") && fc1.contains("[N×300]"))
        #expect(fc1.contains("10.") && fc1.contains("%"), "fc1 should show ~10 % density: \(fc1)")
        #expect(text.contains("parameters      238510"))
        #expect(text.contains("compression"))
    }

    @Test func jsonHasTheDocumentedKeysAndAHonestRatio() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("model.dla")
        let bytes = try DLAFile.write(Self.model(), environment: [:])
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let result = try Executables.run("dlactl", ["inspect", path, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        for key in ["name", "precision", "profile", "inputs", "outputs", "ops", "parameterBytes", "fileBytes", "compressionRatio", "version", "signature"] {
            #expect(json[key] != nil, "missing key \(key)")
        }
        let parameterBytes = try #require(json["parameterBytes"] as? Int)
        let ratio = try #require(json["compressionRatio"] as? Double)
        #expect(json["fileBytes"] as? Int == bytes.count)
        #expect(abs(ratio - Double(4 * 238_510) / Double(parameterBytes)) < 1e-9)
        // 90 % zeros stored sparsely must beat 1 byte per INT8 weight, i.e. a ratio above 4.
        #expect(ratio > 4.0)
        #expect((json["ops"] as? [[String: Any]])?.count == 2)
    }

    @Test func keygenSignsAndInspectVerifies() throws {
        let directory = try TemporaryDirectory()
        let keyPath = directory.file("signer.key")
        let generated = try Executables.run("dlactl", ["keygen", "-o", keyPath])
        #expect(generated.status == 0, "\(generated.stderr)")
        #expect(FileManager.default.fileExists(atPath: keyPath + ".pub"))
        let permissions = try FileManager.default.attributesOfItem(atPath: keyPath)[.posixPermissions] as? Int
        #expect(permissions == 0o600)
        let again = try Executables.run("dlactl", ["keygen", "-o", keyPath])
        #expect(again.status == 1)
        #expect(again.stderr.hasPrefix("error: ") && again.stderr.contains("--force"))

        let key = try DLASigningKey.load(path: keyPath)
        let path = directory.file("signed.dla")
        try Data(try DLAFile.write(Self.model(), signingKey: key, environment: [:])).write(to: URL(fileURLWithPath: path))
        let signed = try Executables.run("dlactl", ["inspect", path, "--trusted-key", keyPath + ".pub"])
        #expect(signed.status == 0, "\(signed.stderr)")
        #expect(signed.stdout.contains("signature   valid (key \(key.publicKey.keyIDHex))"))

        let otherKey = directory.file("other.key")
        _ = try Executables.run("dlactl", ["keygen", "-o", otherKey])
        let untrusted = try Executables.run("dlactl", ["inspect", path, "--trusted-key", otherKey + ".pub"])
        #expect(untrusted.status == 0)
        #expect(untrusted.stdout.contains("signature   invalid"))
    }

    @Test func runtimeErrorsAreOneLineAndExitOne() throws {
        let directory = try TemporaryDirectory()
        let missing = try Executables.run("dlactl", ["inspect", directory.file("absent.dla")])
        #expect(missing.status == 1)
        #expect(missing.stderr == "error: model '\(directory.file("absent.dla"))' does not exist\n")

        var bytes = try DLAFile.write(Self.model(), environment: [:])
        bytes.removeLast(bytes.count / 3)
        let truncated = directory.file("truncated.dla")
        try Data(bytes).write(to: URL(fileURLWithPath: truncated))
        let result = try Executables.run("dlactl", ["inspect", truncated])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("error: \(truncated): "))
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.stdout.isEmpty)

        let garbage = directory.file("garbage.dla")
        try Data("not a model at all".utf8).write(to: URL(fileURLWithPath: garbage))
        let refused = try Executables.run("dlactl", ["inspect", garbage])
        #expect(refused.status == 1)
        #expect(refused.stderr.hasPrefix("error: ") && refused.stderr.split(separator: "\n").count == 1)
    }

    @Test func usageErrorsKeepArgumentParsersExitCode() throws {
        let result = try Executables.run("dlactl", ["inspect"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("Missing expected argument"))
    }
}
