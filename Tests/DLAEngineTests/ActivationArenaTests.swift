import DLAFormat
import Testing
@testable import DLAEngine

extension InstructionSetForcing {
    /// Runs in the activation arena against the executor's general path (an array per
    /// activation), its twin: the same outputs and the same stats but host time, bit for bit.
    @Suite struct ActivationArenaTests {
        /// An LeNet-300-100-shaped MLP, as the benchmarks build it: FP32 input quantized with zero
        /// point −128 (background pixels), fc → SDP (bias, multiplier, ReLU, converter offset) twice,
        /// a reshape, and a last fc → SDP. 288 inputs: long enough for the kernels' group skipping.
        static func perceptron(weightZeros: Double) throws -> DLALoadedModel {
            var random = TestRandom(seed: 300)
            let sizes = [288, 40, 24, 10]
            let q = DLAQuantization.perTensor(scale: 1.0 / 256, zeroPoint: -128)
            var tensors = [DLATensorSpec(name: "pixels", shape: [-1, Int64(sizes[0])], dataType: .int8, quantization: q)]
            var operations: [DLAOperation] = []
            var weights: [DLAWeightTensor] = []
            var current = 0
            for layer in 0..<3 {
                let k = sizes[layer], n = sizes[layer + 1]
                if layer == 2 {
                    tensors.append(DLATensorSpec(name: "flat", shape: [-1, Int64(k)], dataType: .int8, quantization: q))
                    operations.append(DLAOperation(name: "flatten", unit: .cpu, type: "reshape", inputs: [current], outputs: [tensors.count - 1]))
                    current = tensors.count - 1
                }
                weights.append(DLAWeightTensor(name: "fc\(layer).weight", shape: [n, k], values: .int8(random.int8s(n * k, zeros: weightZeros))))
                weights.append(DLAWeightTensor(name: "fc\(layer).bias", shape: [n], values: .int32((0..<n).map { _ in Int32(random.int(in: 5000...40000)) })))
                weights.append(DLAWeightTensor(name: "fc\(layer).scale", shape: [n], values: .int32((0..<n).map { _ in Int32(random.int(in: 8000...16000)) })))
                tensors.append(DLATensorSpec(name: "fc\(layer)", shape: [-1, Int64(n)], dataType: .int32))
                operations.append(DLAOperation(name: "fc\(layer)", unit: .convolution, type: "fc", inputs: [current], outputs: [tensors.count - 1],
                                               attributes: [DLAAttribute("weight", .weight(weights.count - 3))]))
                tensors.append(DLATensorSpec(name: "act\(layer)", shape: [-1, Int64(n)], dataType: .int8, quantization: q))
                operations.append(DLAOperation(name: "fc\(layer)_sdp", unit: .sdp, type: "sdp", inputs: [tensors.count - 2], outputs: [tensors.count - 1],
                                               attributes: [DLAAttribute("bias", .weight(weights.count - 2)),
                                                            DLAAttribute("scale", .weight(weights.count - 1)),
                                                            DLAAttribute("scale_shift", .int(20)),
                                                            DLAAttribute("activation", .string(layer < 2 ? "relu" : "none")),
                                                            DLAAttribute("cvt_offset", .int(128)),
                                                            DLAAttribute("cvt_scale", .int(1)),
                                                            DLAAttribute("cvt_shift", .int(0))]))
                current = tensors.count - 1
            }
            let metadata = DLAMetadata(name: "perceptron", producer: "DLAEngineTests", createdAt: 0, targetProfile: "nv_full", precision: "int8",
                                       inputs: [tensors[0]], outputs: [tensors[current]])
            let model = DLAModel(metadata: metadata, graph: DLAGraph(tensors: tensors, inputs: [0], outputs: [current], operations: operations),
                                 weights: weights)
            return try DLAFile.read(try DLAFile.write(model, environment: [:]))
        }

        /// FP32 pixels in [0, 1), most of them 0 (background) and the rest in runs, as MNIST strokes.
        static func pixels(_ batch: Int, seed: UInt64) throws -> Tensor<Float> {
            var random = TestRandom(seed: seed)
            var values = [Float](repeating: 0, count: batch * 288)
            var index = 0
            while index < values.count {
                let run = random.int(in: 1...12)
                if random.int(in: 0...3) == 0 {
                    for offset in index..<min(index + run, values.count) { values[offset] = Float(random.int(in: 1...255)) / 256 }
                }
                index += run + random.int(in: 4...30)
            }
            return try Tensor(shape: [batch, 288], scalars: values)
        }

        static func expectSameRun(_ arena: Executor.Result, _ general: Executor.Result, _ context: String) {
            #expect(arena.outputs == general.outputs, "\(context)")
            let a = arena.stats, g = general.stats
            #expect(a.operations.count == g.operations.count)
            for (x, y) in zip(a.operations, g.operations) {
                #expect(x.name == y.name && x.unit == y.unit && x.type == y.type, "\(context)")
                #expect(x.cost == y.cost && x.strategy == y.strategy && x.inputDensity == y.inputDensity, "\(context) \(x.name)")
            }
            #expect(a.total == g.total && a.emulatedSeconds == g.emulatedSeconds && a.zeroSkippingSeconds == g.zeroSkippingSeconds, "\(context)")
            #expect(a.batch == g.batch && a.emulatedCores == g.emulatedCores && a.hostThreads == g.hostThreads, "\(context)")
        }

        @Test(arguments: [0.5, 0.9])
        func perceptronMatchesTheGeneralPath(weightZeros: Double) throws {
            let compiled = try ModelAdapter.compile(try Self.perceptron(weightZeros: weightZeros))
            defer { HostKernels.force(nil) }
            for isa in HostKernels.available {
                #expect(HostKernels.force(isa))
                for (threads, strategy) in [(1, nil), (2, nil), (1, .dense), (1, .sparseWeights), (1, .skipZeroActivations),
                                            (1, .sparseWeightsAndActivations), (1, .reference)] as [(Int, ConvolutionStrategy?)] {
                    let arena = try Executor(model: compiled, profile: .nvFull, threads: threads, strategy: strategy)
                    let general = try Executor(model: compiled, profile: .nvFull, threads: threads, strategy: strategy, usesArena: false)
                    #expect(arena.arena != nil && general.arena == nil)
                    // Runs of different batches reuse (and grow) the same arena buffer.
                    for (batch, seed) in [(1, 1), (5, 2), (1, 3), (2, 4)] as [(Int, UInt64)] {
                        let input = [EngineValue.float32(try Self.pixels(batch, seed: seed))]
                        Self.expectSameRun(try arena.run(input), try general.run(input),
                                           "\(isa) threads \(threads) strategy \(String(describing: strategy)) batch \(batch)")
                    }
                }
            }
        }

        @Test func convolutionPoolingAndResidualGraphsMatchTheGeneralPath() throws {
            var random = TestRandom(seed: 18)
            let a = ResNetShapeTests.layer(&random, ResNetShapeTests.hidden, ResNetShapeTests.channels, kernel: 3, stride: 2)
            let b = ResNetShapeTests.layer(&random, ResNetShapeTests.hidden, ResNetShapeTests.hidden, kernel: 3, stride: 1)
            let projection = ResNetShapeTests.layer(&random, ResNetShapeTests.hidden, ResNetShapeTests.channels, kernel: 1, stride: 2)
            let block = try ModelAdapter.compile(try ResNetShapeTests.model(a: a, b: b, projection: projection))
            let size = ResNetShapeTests.channels * ResNetShapeTests.width * ResNetShapeTests.width
            let blockInput = EngineValue.int8(try Tensor(shape: [3, ResNetShapeTests.channels, ResNetShapeTests.width, ResNetShapeTests.width],
                                                         scalars: random.int8s(3 * size, zeros: 0.3)))
            let cnn = try ModelAdapter.compile(try ExecutorTests.fixture().model)
            let cnnInput = EngineValue.int8(try ExecutorTests.images(4, seed: 5))
            defer { HostKernels.force(nil) }
            for isa in HostKernels.available {
                #expect(HostKernels.force(isa))
                for (model, input, name) in [(block, blockInput, "residual block"), (cnn, cnnInput, "cnn with softmax")] {
                    for (threads, strategy) in [(1, nil), (2, nil), (1, .sparseWeights), (1, .skipZeroActivations),
                                                (1, .sparseWeightsAndActivations), (1, .reference)] as [(Int, ConvolutionStrategy?)] {
                        let arena = try Executor(model: model, profile: .nvFull, threads: threads, strategy: strategy)
                        let general = try Executor(model: model, profile: .nvFull, threads: threads, strategy: strategy, usesArena: false)
                        #expect(arena.arena != nil, "\(name)")
                        Self.expectSameRun(try arena.run([input]), try general.run([input]),
                                           "\(name) \(isa) threads \(threads) strategy \(String(describing: strategy))")
                    }
                }
            }
        }

        /// One row on two threads: the padded max pool splits its planes, the convolutions their
        /// pixels (64 channels) or channel blocks (128), the fused SDPs (one with the residual
        /// operand) their channels, with the bits of one thread and of the general path, on every
        /// instruction set.
        @Test func singleRowSplitsOverThreadsWithoutChangingBits() throws {
            var random = TestRandom(seed: 1917)
            let channels = 64, hidden = 128, width = 92
            let a = ResNetShapeTests.layer(&random, hidden, channels, kernel: 3, stride: 2)
            let b = ResNetShapeTests.layer(&random, hidden, hidden, kernel: 3, stride: 1)
            let projection = ResNetShapeTests.layer(&random, hidden, channels, kernel: 1, stride: 2)
            let model = try ModelAdapter.compile(try ResNetShapeTests.model(a: a, b: b, projection: projection, channels: channels, width: width))
            #expect(channels * width * width >= 2 * PDP.minimumBytesPerThread)
            #expect(hidden * 23 * 23 >= 2 * FusedSDP.minimumElementsPerThread)
            let input = [EngineValue.int8(try Tensor(shape: [1, channels, width, width], scalars: random.int8s(channels * width * width, zeros: 0.3)))]
            try expectEveryPathAgrees(model, input)
        }

        /// The twin tests above are only as good as the steps they reach: the CNN takes every direct
        /// step, the reference strategy none of the kernel ones.
        @Test func plansTakeTheDirectSteps() throws {
            func kinds(_ arena: ActivationArena?) -> [String] {
                (arena?.steps ?? []).map { step in
                    switch step {
                    case .kernel(is FullyConnectedKernel): "fc"
                    case .kernel(is ConvolutionKernel): "conv"
                    case .kernel(is FusedSDPKernel): "sdp"
                    case .kernel(is PoolKernel): "pool"
                    case .kernel: "another kernel"
                    case .alias: "alias"
                    case .general: "general"
                    }
                }
            }
            let cnn = try ModelAdapter.compile(try ExecutorTests.fixture().model)
            #expect(kinds(try Executor(model: cnn, profile: .nvFull).arena) == ["conv", "sdp", "pool", "alias", "fc", "sdp", "general"])
            #expect(kinds(try Executor(model: cnn, profile: .nvFull, strategy: .reference).arena)
                    == ["general", "sdp", "pool", "alias", "general", "sdp", "general"])
        }

        /// Tensors alive at the same time never share bytes; a reshape shares its input's.
        @Test func liveTensorsNeverOverlap() throws {
            let models = [try ModelAdapter.compile(try Self.perceptron(weightZeros: 0.5)),
                          try ModelAdapter.compile(try ExecutorTests.fixture().model)]
            for model in models {
                let executor = try Executor(model: model, profile: .nvFull)
                guard let arena = executor.arena else {
                    Issue.record("\(model.name): no arena")
                    continue
                }
                var written = Set(model.inputs)
                for (index, operation) in model.operations.enumerated() {
                    let output = operation.outputs[0]
                    written.insert(output)
                    if case .alias = arena.steps[index] {
                        #expect(arena.rowOffsets[output] == arena.rowOffsets[operation.inputs[0]])
                        continue
                    }
                    // Every tensor written so far and read later (or a graph output) is alive now.
                    let alive = written.filter { id in
                        id != output && (model.outputs.contains(id)
                            || model.operations[index...].contains { $0.inputs.contains(id) })
                    }
                    func range(_ id: Int) -> Range<Int> {
                        let spec = model.tensors[id]
                        let bytes = spec.sampleShape.reduce(1, *) * (ActivationArena.elementBytes(spec.elementType) ?? 0)
                        return arena.rowOffsets[id]..<(arena.rowOffsets[id] + bytes)
                    }
                    for id in alive where range(id).overlaps(range(output)) {
                        Issue.record("\(model.name): \(operation.name) writes over tensor \(id), alive")
                    }
                    #expect(range(output).upperBound <= arena.bytesPerRow)
                }
            }
        }
    }
}
