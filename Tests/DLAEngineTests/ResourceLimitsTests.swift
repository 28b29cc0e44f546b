import DLAFormat
import Testing
@testable import DLAEngine

/// `DLAResourceLimits` on the engine's side: a model or a batch that would pass a limit is
/// refused before anything is allocated, the error naming the limit and the value.
struct ResourceLimitsTests {
    /// A 16×16×8 INT8 feature map through a 2×2 max pool: 2048 bytes of input and 512 of output
    /// per row, both planned in the arena.
    static func poolModel() throws -> CompiledModel {
        let operation = DLAOperation(name: "pool", unit: .pdp, type: "pool", inputs: [0], outputs: [1],
                                     attributes: [DLAAttribute("kernel", .ints([2, 2]))])
        return try ModelAdapter.compile(try UntrustedModelTests.load(operation, tensors: [
            UntrustedModelTests.int8("x", [8, 16, 16]), UntrustedModelTests.int8("y", [8, 8, 8]),
        ]))
    }

    @Test func defaultsSuitAXavierClassBox() {
        let limits = DLAResourceLimits()
        #expect(limits.maxWeightBytes == 512 << 20)
        #expect(limits.maxOperations == 4096)
        #expect(limits.maxActivationBytes == 1 << 30)
        #expect(limits.maxBatchInputElements == 64 << 20)
    }

    @Test func batchPastTheInputLimitIsRefusedBeforeRunning() throws {
        let model = try Self.poolModel()
        let executor = try Executor(model: model, profile: .nvFull, limits: DLAResourceLimits(maxBatchInputElements: 4 * 2048))
        let input = { (rows: Int) throws -> [EngineValue] in [.int8(try Tensor(shape: [rows, 8, 16, 16], repeating: 1))] }
        #expect(try executor.run(try input(4)).outputs[0].shape == [4, 8, 8, 8])
        #expect(throws: EngineError.limitExceeded(what: "model 'crafted' inputs at batch 5", limit: "DLAResourceLimits.maxBatchInputElements",
                                                  value: 5 * 2048, maximum: 4 * 2048)) {
            try executor.run(try input(5))
        }
        #expect(throws: EngineError.limitExceeded(what: "model 'crafted' inputs at batch 5", limit: "DLAResourceLimits.maxBatchInputElements",
                                                  value: 5 * 2048, maximum: 4 * 2048)) {
            try executor.checkBatch(5)
        }
        // Batches far past the limit, or past Int32, are refused the same way (no overflow, no trap).
        #expect(throws: EngineError.self) { try Executor(model: model, profile: .nvFull).checkBatch(Int(Int32.max)) }
        #expect(throws: EngineError.self) { try Executor(model: model, profile: .nvFull).checkBatch(Int.max) }
    }

    @Test func activationMemoryIsBoundedPerModelAndPerBatch() throws {
        let model = try Self.poolModel()
        let perRow = try #require(try Executor(model: model, profile: .nvFull).arena).bytesPerRow
        #expect(perRow == 2048 + 512)
        // One row does not fit: the model itself is refused.
        #expect(throws: EngineError.limitExceeded(what: "model 'crafted' activation bytes at batch 1", limit: "DLAResourceLimits.maxActivationBytes",
                                                  value: perRow, maximum: perRow - 1)) {
            try Executor(model: model, profile: .nvFull, limits: DLAResourceLimits(maxActivationBytes: perRow - 1))
        }
        let executor = try Executor(model: model, profile: .nvFull, limits: DLAResourceLimits(maxActivationBytes: 3 * perRow))
        #expect(try executor.run([.int8(try Tensor(shape: [3, 8, 16, 16], repeating: 1))]).outputs.count == 1)
        let error = #expect(throws: EngineError.self) { try executor.run([.int8(try Tensor(shape: [4, 8, 16, 16], repeating: 1))]) }
        #expect(error?.description == "model 'crafted' activation bytes at batch 4: \(4 * perRow) exceeds DLAResourceLimits.maxActivationBytes = \(3 * perRow)")
    }

    @Test func generalPathBoundsEveryActivationOfARow() throws {
        let model = try Self.poolModel()
        let executor = try Executor(model: model, profile: .nvFull, threads: 1, strategy: nil, usesArena: false)
        #expect(executor.activationBytesPerRow == 2048 + 512)
    }

    @Test func operationCountIsBounded() throws {
        let model = try Self.poolModel()
        #expect(throws: EngineError.limitExceeded(what: "model 'crafted' operations", limit: "DLAResourceLimits.maxOperations", value: 1, maximum: 0)) {
            try Executor(model: model, profile: .nvFull, limits: DLAResourceLimits(maxOperations: 0))
        }
    }

    @Test func selfTestVectorsRunUnderTheSameLimits() throws {
        let model = try Self.poolModel()
        let test = try SelfTestVectors.record(model, profile: .nvFull, inputs: (0..<(3 * 2048)).map { Float($0 % 7) }, rows: 3)
        #expect(try SelfTestVectors.verify(model, profile: .nvFull, tests: [test]).isEmpty)
        #expect(throws: EngineError.limitExceeded(what: "model 'crafted' inputs at batch 3", limit: "DLAResourceLimits.maxBatchInputElements",
                                                  value: 3 * 2048, maximum: 2048)) {
            try SelfTestVectors.verify(model, profile: .nvFull, tests: [test], limits: DLAResourceLimits(maxBatchInputElements: 2048))
        }
    }
}
