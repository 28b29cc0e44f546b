import DLAFormat
import Foundation
import Testing
import DLAEngine

/// The load-and-run path on damaged models, in every test run: every other byte of a few
/// compiled models (the fuzz seeds) flipped behind resealed checksums, then read, built,
/// self-tested and run as the daemon would. Every step may refuse; none may trap.
/// `FuzzDLAEngine` explores the same path at length; this keeps a regression net in `make test`.
struct MutatedModelTests {
    static let seeds = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Fuzz/seeds/engine").standardizedFileURL

    static let models = ["residual-cnn-int8-qdq.dla", "micro-conv-bn-activations.dla", "micro-lrn-identity-dropout-int8.dla"]

    /// Reads, builds and runs `bytes`; true when it ran to the end.
    static func loadAndRun(_ bytes: [UInt8]) -> Bool {
        let limits = DLAResourceLimits(maxWeightBytes: 16 << 20, maxOperations: 256, maxActivationBytes: 64 << 20, maxBatchInputElements: 1 << 20)
        guard let loaded = try? DLAFile.read(bytes, options: DLAReadOptions(limits: limits)),
              let model = try? ModelAdapter.compile(loaded),
              let executor = try? Executor(model: model, profile: .nvFull, limits: limits) else { return false }
        _ = try? SelfTestVectors.verify(model, profile: .nvFull, tests: loaded.selfTests, limits: limits)
        let inputs = model.inputs.map { id -> EngineValue? in
            let spec = model.tensors[id]
            let shape = [2] + spec.sampleShape
            let count = shape.reduce(1, *)
            switch spec.elementType {
            case .int8: return try? .int8(Tensor(shape: shape, scalars: (0..<count).map { Int8(truncatingIfNeeded: $0 &* 37) }))
            case .int32: return try? .int32(Tensor(shape: shape, scalars: (0..<count).map { Int32($0 % 255) - 127 }))
            case .float32, .float16, .fp8e4m3, .fp8e5m2: return try? .float32(Tensor(shape: shape, scalars: (0..<count).map { Float($0 % 13) / 4 - 1.5 }))
            }
        }
        return (try? executor.run(inputs.compactMap { $0 })) != nil
    }

    @Test(arguments: models)
    func everyFlippedByteIsRefusedOrRuns(_ name: String) throws {
        let file = [UInt8](try Data(contentsOf: Self.seeds.appendingPathComponent(name)))
        #expect(Self.loadAndRun(file), "the unmodified \(name) must run")
        var ran = 0
        // The header and trailer hold only checksums, sizes and the signature: the reader's tests
        // cover them. Every other byte, by halves to keep `make test` quick (the fuzzer does the rest).
        for index in stride(from: 32, to: file.count - 152, by: 2) {
            var bytes = file
            bytes[index] ^= 0xFF
            if Self.loadAndRun(DLAFile.resealingChecksums(bytes)) { ran += 1 }
        }
        // Flips inside weight payloads give valid models with other weights: some must run.
        #expect(ran > 0)
    }
}
