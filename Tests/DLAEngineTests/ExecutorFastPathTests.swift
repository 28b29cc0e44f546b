import DLANumerics
import Testing
@testable import DLAEngine

/// The executor's fast paths that do not depend on the instruction set: which SDP programs fuse,
/// and cached cost plans against the performance model called directly.
struct ExecutorFastPathTests {
    @Test func fusedSDPRefusesOtherPrograms() {
        let converter = OutputConverter.identity
        #expect(FusedSDP(SDPParameters(stages: [.relu, .add(.constant(1))], converter: converter), channels: 2) == nil)
        #expect(FusedSDP(SDPParameters(stages: [.add(.perChannel([1, 2, 3]))], converter: converter), channels: 2) == nil)
        #expect(FusedSDP(SDPParameters(stages: [.clip(lower: 0, upper: 6)], converter: converter), channels: 2) == nil)
        #expect(FusedSDP(SDPParameters(stages: [.multiply(.constant(3), shift: 64)], converter: converter), channels: 2) == nil)
        #expect(FusedSDP(SDPParameters(stages: [.add(.constant(1)), .multiply(.constant(3), shift: 2), .relu], converter: converter),
                         channels: 2) != nil)
    }

    @Test func cachedCostPlansEqualThePerformanceModelCalledDirectly() throws {
        let compiled = try ModelAdapter.compile(try ExecutorTests.fixture().model)
        let executor = try Executor(model: compiled, profile: .xavier)
        let first = try executor.run([.int8(try ExecutorTests.images(3, seed: 5))]).stats
        _ = try executor.run([.int8(try ExecutorTests.images(2, seed: 6))])
        let again = try executor.run([.int8(try ExecutorTests.images(3, seed: 7))]).stats
        #expect(again.operations.map(\.cost.hardwareCycles) == first.operations.map(\.cost.hardwareCycles))
        #expect(again.emulatedSeconds == first.emulatedSeconds)

        // The fully connected layer on xavier: rows split 2 + 1 over the two cores.
        guard case .fullyConnected(let weights, _) = compiled.operations[4].kind else {
            Issue.record("operation 4 is not the fully connected layer")
            return
        }
        let density = try #require(again.operations[4].inputDensity)
        let model = PerformanceModel(profile: .xavier)
        let p = ConvolutionParameters.fullyConnected(inputFeatures: weights.reductionLength, outputFeatures: weights.outputChannels)
        let direct = try [2, 1].map { rows throws(EngineError) in
            try model.convolution(p, precision: .int8, batch: rows, weightDensity: weights.density, activationDensity: density)
        }
        var expected = OperationCost.total(direct, unit: .convolution)
        expected.unit = .convolution
        #expect(again.operations[4].cost == expected)
    }
}
