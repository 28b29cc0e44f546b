import DLAFormat
import DLANumerics
import Testing
@testable import DLAEngine

/// A small CNN built through the real `.dla` writer and reader, run by the executor and checked
/// against the units composed by hand.
struct ExecutorTests {
    struct Fixture {
        var model: DLALoadedModel
        var convWeights: [Int8]
        var convBias: [Int32]
        var fcWeights: [Int8]
        var fcBias: [Int32]
    }

    static func fixture(activation: String = "relu", weightZeros: Double = 0.5) throws -> Fixture {
        var random = TestRandom(seed: 99)
        let convWeights = random.int8s(4 * 1 * 3 * 3, zeros: weightZeros)
        let convBias = (0..<4).map { _ in Int32(random.int(in: -500...500)) }
        let fcWeights = random.int8s(10 * 64, zeros: weightZeros)
        let fcBias = (0..<10).map { _ in Int32(random.int(in: -2000...2000)) }
        let q = DLAQuantization.perTensor(scale: 1.0 / 64, zeroPoint: 0)
        let tensors = [
            DLATensorSpec(name: "image", shape: [-1, 1, 8, 8], dataType: .int8, quantization: q),
            DLATensorSpec(name: "conv", shape: [-1, 4, 8, 8], dataType: .int32),
            DLATensorSpec(name: "act", shape: [-1, 4, 8, 8], dataType: .int8, quantization: q),
            DLATensorSpec(name: "pool", shape: [-1, 4, 4, 4], dataType: .int8, quantization: q),
            DLATensorSpec(name: "flat", shape: [-1, 64], dataType: .int8, quantization: q),
            DLATensorSpec(name: "fc", shape: [-1, 10], dataType: .int32),
            DLATensorSpec(name: "logits", shape: [-1, 10], dataType: .int8, quantization: .perTensor(scale: 0.125, zeroPoint: 0)),
            DLATensorSpec(name: "probabilities", shape: [-1, 10], dataType: .float32),
        ]
        let operations = [
            DLAOperation(name: "conv1", unit: .convolution, type: "conv", inputs: [0], outputs: [1],
                         attributes: [DLAAttribute("weight", .weight(0)), DLAAttribute("padding", .ints([1, 1, 1, 1]))]),
            DLAOperation(name: "conv1_sdp", unit: .sdp, type: "sdp", inputs: [1], outputs: [2],
                         attributes: [DLAAttribute("bias", .weight(1)), DLAAttribute("activation", .string(activation)),
                                      DLAAttribute("cvt_scale", .int(3)), DLAAttribute("cvt_shift", .int(5))]),
            DLAOperation(name: "pool1", unit: .pdp, type: "pool", inputs: [2], outputs: [3],
                         attributes: [DLAAttribute("method", .string("max")), DLAAttribute("kernel", .ints([2, 2]))]),
            DLAOperation(name: "flatten", unit: .cpu, type: "reshape", inputs: [3], outputs: [4]),
            DLAOperation(name: "fc1", unit: .convolution, type: "fc", inputs: [4], outputs: [5], attributes: [DLAAttribute("weight", .weight(2))]),
            DLAOperation(name: "fc1_sdp", unit: .sdp, type: "sdp", inputs: [5], outputs: [6],
                         attributes: [DLAAttribute("bias", .weight(3)), DLAAttribute("cvt_scale", .int(1)), DLAAttribute("cvt_shift", .int(6))]),
            DLAOperation(name: "softmax", unit: .cpu, type: "softmax", inputs: [6], outputs: [7]),
        ]
        let weights = [
            DLAWeightTensor(name: "conv1.weight", shape: [4, 1, 3, 3], values: .int8(convWeights)),
            DLAWeightTensor(name: "conv1.bias", shape: [4], values: .int32(convBias)),
            DLAWeightTensor(name: "fc1.weight", shape: [10, 64], values: .int8(fcWeights)),
            DLAWeightTensor(name: "fc1.bias", shape: [10], values: .int32(fcBias)),
        ]
        let metadata = DLAMetadata(name: "tiny", producer: "DLAEngineTests", createdAt: 0, targetProfile: "nv_full", precision: "int8",
                                   inputs: [tensors[0]], outputs: [tensors[7]])
        let model = DLAModel(metadata: metadata, graph: DLAGraph(tensors: tensors, inputs: [0], outputs: [7], operations: operations), weights: weights)
        let bytes = try DLAFile.write(model, environment: [:])
        return Fixture(model: try DLAFile.read(bytes), convWeights: convWeights, convBias: convBias, fcWeights: fcWeights, fcBias: fcBias)
    }

    static func images(_ batch: Int, seed: UInt64) throws -> Tensor<Int8> {
        var random = TestRandom(seed: seed)
        return try Tensor(shape: [batch, 1, 8, 8], scalars: random.reluInt8s(batch * 64, zeros: 0.6))
    }

    /// The same network composed from the units directly, one image at a time.
    static func expected(_ f: Fixture, _ images: Tensor<Int8>) throws -> [Float] {
        let conv = ConvolutionParameters(inputChannels: 1, inputHeight: 8, inputWidth: 8, outputChannels: 4, kernelHeight: 3, kernelWidth: 3,
                                         padTop: 1, padBottom: 1, padLeft: 1, padRight: 1)
        let convW = try Int8ConvolutionWeights(outputChannels: 4, reductionLength: 9, values: f.convWeights)
        let fcW = try Int8ConvolutionWeights(outputChannels: 10, reductionLength: 64, values: f.fcWeights)
        var out: [Float] = []
        for n in 0..<images.shape[0] {
            let image = try Tensor(shape: [1, 8, 8], scalars: Array(images.scalars[(n * 64)..<((n + 1) * 64)]))
            let acc = try ConvolutionCore.int8(input: image, weights: convW, parameters: conv, strategy: .reference)
            let act = try SDP.run(acc.accumulators, SDPParameters(stages: [.add(.perChannel(f.convBias)), .relu],
                                                                  converter: OutputConverter(offset: 0, scale: 3, shift: 5)), profile: .nvFull)
            let pooled = try PDP.run(act, PDPParameters(method: .maximum, kernelHeight: 2, kernelWidth: 2, strideY: 2, strideX: 2), profile: .nvFull)
            let fc = try ConvolutionCore.int8FullyConnected(input: try pooled.reshaped([1, 64]), weights: fcW, strategy: .reference)
            let logits = try SDP.run(fc.accumulators, SDPParameters(stages: [.add(.perChannel(f.fcBias))],
                                                                    converter: OutputConverter(offset: 0, scale: 1, shift: 6)),
                                     profile: .nvFull, channelAxis: 1)
            out += try CPUFallback.softmax(try CPUFallback.dequantize(logits, scale: 0.125, zeroPoint: 0)).scalars
        }
        return out
    }

    @Test func runsTheGraphAsTheUnitsComposeAndThreadsChangeNothing() throws {
        let f = try Self.fixture()
        let compiled = try ModelAdapter.compile(f.model)
        let images = try Self.images(5, seed: 1)
        let expected = try Self.expected(f, images)
        for (threads, strategy) in [(1, nil), (2, nil), (2, ConvolutionStrategy.sparseWeightsAndActivations), (1, .reference)] as [(Int, ConvolutionStrategy?)] {
            let executor = try Executor(model: compiled, profile: .nvFull, threads: threads, strategy: strategy)
            let result = try executor.run([.int8(images)])
            guard case .float32(let probabilities) = result.outputs[0] else {
                Issue.record("output type \(result.outputs[0].typeName)")
                continue
            }
            #expect(probabilities.shape == [5, 10])
            #expect(probabilities.scalars == expected, "threads \(threads) strategy \(String(describing: strategy))")
            #expect(result.stats.operations.count == 7)
            #expect(result.stats.hostThreads == threads)
        }
    }

    @Test func statsSeparateUnitsCPUFallbackAndCores() throws {
        let compiled = try ModelAdapter.compile(try Self.fixture().model)
        let images = try Self.images(4, seed: 2)
        let full = try Executor(model: compiled, profile: .nvFull).run([.int8(images)]).stats
        let xavier = try Executor(model: compiled, profile: .xavier).run([.int8(images)]).stats
        #expect(full.operations.map(\.unit) == [.convolution, .sdp, .pdp, .cpu, .convolution, .sdp, .cpu])
        #expect(full.operations[0].cost.macs == 4 * 64 * 4 * 9)
        #expect(full.operations[4].cost.macs == 4 * 640)
        #expect(full.operations[6].cost.hardwareCycles == 0)
        #expect(full.operations[1].cost.dramBytes == 4 * 4 + 4 * 256)  // fused after CACC: bias and INT8 output only
        #expect(full.emulatedSeconds > 0 && full.zeroSkippingSeconds <= full.emulatedSeconds)
        #expect(full.operations[0].inputDensity.map { $0 > 0.2 && $0 < 0.6 } == true)
        #expect(xavier.emulatedCores == 2)
        #expect(xavier.emulatedSeconds < full.emulatedSeconds)
        #expect(xavier.total.macs == full.total.macs)
    }

    @Test func floatInputsAreQuantizedByTheInputConverter() throws {
        let compiled = try ModelAdapter.compile(try Self.fixture().model)
        let executor = try Executor(model: compiled, profile: .nvFull)
        let images = try Self.images(2, seed: 3)
        let real = try Tensor(shape: images.shape, scalars: images.scalars.map { Float($0) / 64 })
        #expect(try executor.run([.float32(real)]).outputs == executor.run([.int8(images)]).outputs)
    }

    @Test func refusesWhatTheProfileOrTheInputCannotDo() throws {
        let sigmoid = try ModelAdapter.compile(try Self.fixture(activation: "sigmoid").model)
        #expect(throws: EngineError.unsupported(unit: "operation 'conv1_sdp' (sdp sdp)", capability: "LUT activation (SDP_LUT)", profile: "nv_small")) {
            try Executor(model: sigmoid, profile: .nvSmall)
        }
        _ = try Executor(model: sigmoid, profile: .nvLarge)
        let executor = try Executor(model: try ModelAdapter.compile(try Self.fixture().model), profile: .nvSmall)
        let wrong = try Tensor(shape: [2, 1, 8, 7], scalars: [Int8](repeating: 0, count: 112))
        #expect(throws: EngineError.shapeMismatch(what: "input 'image' (batch first)", expected: [-1, 1, 8, 8], found: [2, 1, 8, 7])) {
            try executor.run([.int8(wrong)])
        }
        let int32Input = try Tensor(shape: [1, 1, 8, 8], scalars: [Int32](repeating: 0, count: 64))
        #expect(throws: EngineError.invalidParameter(name: "input 'image' type", expected: "int8", found: "int32")) {
            try executor.run([.int32(int32Input)])
        }
    }
}
