import DLANumerics
import Testing
@testable import DLAEngine

/// The executor's fast paths that do not depend on the instruction set: which SDP programs fuse,
/// and cached cost plans against the performance model called directly.
struct ExecutorFastPathTests {
    @Test func fusedSDPRefusesOtherPrograms() {
        let converter = OutputConverter.identity
        func fuses(_ stages: [SDPStage]) -> Bool { FusedSDP(SDPParameters(stages: stages, converter: converter), channels: 2) != nil }
        // Three clips or multiplies, four adds: the pass has two clips, two multipliers and three adds.
        #expect(!fuses([.relu, .relu, .relu]))
        #expect(!fuses([.add(.constant(1)), .add(.constant(2)), .add(.constant(3)), .add(.constant(4))]))
        #expect(!fuses([.multiply(.constant(1), shift: 0), .relu, .multiply(.constant(1), shift: 0), .multiply(.constant(1), shift: 0)]))
        // After BN's multiplier only Y's add and the activation are left.
        #expect(fuses([.multiply(.constant(1), shift: 0), .multiply(.constant(1), shift: 0), .add(.constant(1)), .relu]))
        #expect(!fuses([.multiply(.constant(1), shift: 0), .multiply(.constant(1), shift: 0), .add(.constant(1)), .add(.constant(1))]))
        #expect(!fuses([.add(.perChannel([1, 2, 3]))]))
        #expect(!fuses([.clip(lower: 6, upper: 0)]))
        #expect(!fuses([.multiply(.constant(3), shift: 64)]))
        #expect(!fuses([.multiply(.perChannel([1, Int32.min]), shift: 63)]))
        #expect(!fuses([.prelu(slope: .constant(1), shift: 0)]))
        #expect(!fuses([.maximum(.constant(0))]))
        #expect(fuses([.add(.constant(1)), .multiply(.constant(3), shift: 2), .relu]))
        #expect(fuses([.clip(lower: 0, upper: 6)]))
        // BS with its clip, then BN and an activation: a requantized layer.
        #expect(fuses([.add(.constant(1)), .multiply(.constant(3), shift: 2), .clip(lower: -100, upper: 155), .add(.constant(-4)),
                       .multiply(.constant(5), shift: 1), .relu]))
        #expect(fuses([.relu, .add(.constant(1))]))
    }

    /// The one decision per operation: INT32 or INT8 input, an INT8 operand of the input's shape.
    @Test func planFusesIntegerSDPsOnAccumulatorsAndCodes() throws {
        func model(input: ActivationSpec.ElementType, operand: ActivationSpec.ElementType?, operandShape: [Int] = [4, 2]) -> CompiledModel {
            let tensors = [ActivationSpec(name: "x", sampleShape: [4, 2], elementType: input),
                           ActivationSpec(name: "y", sampleShape: [4, 2], elementType: .int8),
                           ActivationSpec(name: "r", sampleShape: operandShape, elementType: operand ?? .int8)]
            let layer = SDPLayer(before: [.add(.constant(3))], elementwise: operand == nil ? nil : .init(operation: .add, operandConverter: .identity),
                                 after: [.relu], converter: .identity, outputType: .int8)
            let operation = EngineOperation(name: "sdp", unit: .sdp, type: "sdp", kind: SDPOperation(layer: layer),
                                            inputs: operand == nil ? [0] : [0, 2], outputs: [1])
            return CompiledModel(name: "m", targetProfile: "nv_full", tensors: tensors, inputs: operand == nil ? [0] : [0, 2], outputs: [1],
                                 operations: [operation])
        }
        /// The program the executor runs the SDP as (nil: stage by stage).
        func fused(_ model: CompiledModel) throws -> FusedSDP? {
            try (Executor(model: model, profile: .nvFull).operators[0] as? FusedSDPOperation)?.program
        }
        #expect(try fused(model(input: .int32, operand: nil)) != nil)
        #expect(try fused(model(input: .int8, operand: nil)) != nil)
        #expect(try fused(model(input: .int8, operand: .int8))?.addsOperand == true)
        #expect(try fused(model(input: .int32, operand: .int32)) == nil)
        #expect(try fused(model(input: .int8, operand: .int8, operandShape: [8])) == nil)
        #expect(try fused(model(input: .float32, operand: nil)) == nil)
    }

    /// A residual add of two INT8 activations (an SDP reading codes from memory) runs as one
    /// fused pass on the arena and on the general path, equals `SDP.run` stage by stage, and its
    /// emulated DRAM traffic counts one byte per INT8 element read.
    @Test func int8InputSDPRunsFusedAndCostsOneBytePerElement() throws {
        let channels = 3, height = 2, width = 5, batch = 4
        let shape = [channels, height, width]
        let tensors = [ActivationSpec(name: "x", sampleShape: shape, elementType: .int8, quantization: .init(scale: 0.1, zeroPoint: -3)),
                       ActivationSpec(name: "y", sampleShape: shape, elementType: .int8, quantization: .init(scale: 0.2, zeroPoint: 5)),
                       ActivationSpec(name: "sum", sampleShape: shape, elementType: .int8, quantization: .init(scale: 0.25, zeroPoint: -128))]
        let aligner = OutputConverter(offset: 5, scale: 26214, shift: 7)
        let layer = SDPLayer(before: [.add(.perChannel([3, 3, 3])), .multiply(.perChannel([13107, 13107, 13107]), shift: 7)],
                             elementwise: .init(operation: .add, operandConverter: aligner), after: [.relu],
                             converter: OutputConverter(offset: 128 << 8, scale: 1, shift: 8), outputType: .int8)
        let model = CompiledModel(name: "residual", targetProfile: "nv_full", tensors: tensors, inputs: [0, 1], outputs: [2],
                                  operations: [EngineOperation(name: "add", unit: .sdp, type: "sdp", kind: SDPOperation(layer: layer), inputs: [0, 1], outputs: [2])])
        var random = TestRandom(seed: 31)
        let count = batch * channels * height * width
        let x = try Tensor(shape: [batch] + shape, scalars: random.int8s(count, zeros: 0.2))
        let y = try Tensor(shape: [batch] + shape, scalars: random.int8s(count, zeros: 0.2))
        let aligned = try Tensor(shape: y.shape, scalars: y.scalars.map { aligner.convert(Int64($0), to: Int32.min...Int32.max) })
        let expected = try SDP.run(try Tensor(shape: x.shape, scalars: x.scalars.map(Int32.init)), layer.parameters(operand: aligned),
                                   profile: .nvFull, channelAxis: 1)
        let arena = try Executor(model: model, profile: .nvFull)
        let general = try Executor(model: model, profile: .nvFull, threads: 1, strategy: nil, usesArena: false)
        #expect(arena.operators[0] is FusedSDPOperation && general.operators[0] is FusedSDPOperation)
        guard case .kernel(let kernel)? = arena.arena?.steps.first, let step = kernel as? FusedSDPKernel else {
            Issue.record("the arena does not run the INT8-input SDP fused")
            return
        }
        #expect(step.readsCodes)
        for executor in [arena, general] {
            let result = try executor.run([.int8(x), .int8(y)])
            guard case .int8(let out) = result.outputs[0] else {
                Issue.record("output is not INT8")
                return
            }
            #expect(out.scalars == expected.scalars)
            // Input and operand one byte each, bias and multiplier 4 bytes per channel, the INT8 output.
            #expect(result.stats.operations[0].cost.dramBytes == count + count + 2 * 4 * channels + count)
        }
    }

    /// One large row of that residual add on two threads: its channels split over them, reading
    /// INT8 codes, with the bits of one thread and of the general path.
    @Test func int8InputSDPOfOneRowSplitsOverThreadsWithoutChangingBits() throws {
        let channels = 16, height = 48, width = 96
        #expect(channels * height * width >= 2 * FusedSDP.minimumElementsPerThread)
        let shape = [channels, height, width]
        let tensors = [ActivationSpec(name: "x", sampleShape: shape, elementType: .int8, quantization: .init(scale: 0.1, zeroPoint: -3)),
                       ActivationSpec(name: "y", sampleShape: shape, elementType: .int8, quantization: .init(scale: 0.2, zeroPoint: 5)),
                       ActivationSpec(name: "sum", sampleShape: shape, elementType: .int8, quantization: .init(scale: 0.25, zeroPoint: -128))]
        let layer = SDPLayer(before: [.add(.perChannel((0..<channels).map { Int32($0 % 5) - 2 })),
                                      .multiply(.perChannel((0..<channels).map { 13107 + Int32($0) * 97 }), shift: 7)],
                             elementwise: .init(operation: .add, operandConverter: OutputConverter(offset: 5, scale: 26214, shift: 7)),
                             after: [.relu], converter: OutputConverter(offset: 128 << 8, scale: 1, shift: 8), outputType: .int8)
        let model = CompiledModel(name: "residual", targetProfile: "nv_full", tensors: tensors, inputs: [0, 1], outputs: [2],
                                  operations: [EngineOperation(name: "add", unit: .sdp, type: "sdp", kind: SDPOperation(layer: layer), inputs: [0, 1], outputs: [2])])
        var random = TestRandom(seed: 77)
        let count = channels * height * width
        let inputs: [EngineValue] = [.int8(try Tensor(shape: [1] + shape, scalars: random.int8s(count, zeros: 0.2))),
                                     .int8(try Tensor(shape: [1] + shape, scalars: random.int8s(count, zeros: 0.2)))]
        try expectEveryPathAgrees(model, inputs)
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
        guard let weights = (compiled.operations[4].kind as? FullyConnectedOperation)?.weights else {
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
