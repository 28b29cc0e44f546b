import Testing
@testable import DLAEngine

extension InstructionSetForcing {
    @Suite struct ConvolutionCoreTests {
        static let layers: [ConvolutionParameters] = [
            ConvolutionParameters(inputChannels: 3, inputHeight: 9, inputWidth: 11, outputChannels: 5, kernelHeight: 3, kernelWidth: 3,
                                  padTop: 1, padBottom: 1, padLeft: 1, padRight: 1),
            ConvolutionParameters(inputChannels: 8, inputHeight: 12, inputWidth: 10, outputChannels: 6, kernelHeight: 5, kernelWidth: 3,
                                  strideY: 2, strideX: 3, padTop: 2, padBottom: 0, padLeft: 1, padRight: 2),
            ConvolutionParameters(inputChannels: 4, inputHeight: 13, inputWidth: 13, outputChannels: 7, kernelHeight: 3, kernelWidth: 3,
                                  padTop: 2, padBottom: 2, padLeft: 2, padRight: 2, dilationY: 2, dilationX: 2),
            ConvolutionParameters(inputChannels: 6, inputHeight: 8, inputWidth: 8, outputChannels: 6, kernelHeight: 3, kernelWidth: 3,
                                  padTop: 1, padBottom: 1, padLeft: 1, padRight: 1, groups: 6),
            ConvolutionParameters(inputChannels: 8, inputHeight: 7, inputWidth: 7, outputChannels: 4, kernelHeight: 1, kernelWidth: 1, groups: 2),
            ConvolutionParameters(inputChannels: 70, inputHeight: 6, inputWidth: 6, outputChannels: 33, kernelHeight: 3, kernelWidth: 3,
                                  padTop: 1, padBottom: 1, padLeft: 1, padRight: 1),
            // Unpadded (LeNet-like), which im2col copies run by run: kernel widths 5, 3 (stride 2), 7 and 4.
            ConvolutionParameters(inputChannels: 3, inputHeight: 11, inputWidth: 9, outputChannels: 5, kernelHeight: 5, kernelWidth: 5),
            ConvolutionParameters(inputChannels: 2, inputHeight: 9, inputWidth: 10, outputChannels: 4, kernelHeight: 3, kernelWidth: 3,
                                  strideY: 2, strideX: 2),
            ConvolutionParameters(inputChannels: 1, inputHeight: 10, inputWidth: 12, outputChannels: 3, kernelHeight: 7, kernelWidth: 7),
            ConvolutionParameters(inputChannels: 2, inputHeight: 6, inputWidth: 13, outputChannels: 17, kernelHeight: 2, kernelWidth: 4,
                                  strideY: 1, strideX: 3),
            // ResNet-like: 64 channels in four 16-channel blocks (the direct kernel's 64-channel
            // step), a strided 7×7 stem with 3 input channels, a 1×1/2 projection, 80 outputs (a
            // block left over) on an odd pixel count.
            ConvolutionParameters(inputChannels: 64, inputHeight: 9, inputWidth: 9, outputChannels: 64, kernelHeight: 3, kernelWidth: 3,
                                  padTop: 1, padBottom: 1, padLeft: 1, padRight: 1),
            ConvolutionParameters(inputChannels: 3, inputHeight: 17, inputWidth: 15, outputChannels: 20, kernelHeight: 7, kernelWidth: 7,
                                  strideY: 2, strideX: 2, padTop: 3, padBottom: 3, padLeft: 3, padRight: 3),
            ConvolutionParameters(inputChannels: 16, inputHeight: 9, inputWidth: 9, outputChannels: 32, kernelHeight: 1, kernelWidth: 1,
                                  strideY: 2, strideX: 2),
            ConvolutionParameters(inputChannels: 36, inputHeight: 7, inputWidth: 7, outputChannels: 80, kernelHeight: 3, kernelWidth: 3,
                                  padTop: 1, padBottom: 2, padLeft: 0, padRight: 1),
            // Channels in sixteens on rows of 16 pixels and more: the input is prepared 16 × 16 at a time.
            ConvolutionParameters(inputChannels: 32, inputHeight: 5, inputWidth: 37, outputChannels: 24, kernelHeight: 3, kernelWidth: 3,
                                  padTop: 1, padBottom: 1, padLeft: 1, padRight: 1),
            ConvolutionParameters(inputChannels: 16, inputHeight: 3, inputWidth: 16, outputChannels: 16, kernelHeight: 1, kernelWidth: 1),
        ]

        /// `packedForConvolution` false packs the weights as plain rows (`.dense` then takes im2col + GEMM).
        func randomLayer(_ p: ConvolutionParameters, seed: UInt64, weightZeros: Double, activationZeros: Double, relu: Bool,
                         packedForConvolution: Bool = true) throws -> (Tensor<Int8>, Int8ConvolutionWeights) {
            var random = TestRandom(seed: seed)
            let g = try p.validated()
            let count = p.inputChannels * p.inputHeight * p.inputWidth
            let activations = relu ? random.reluInt8s(count, zeros: activationZeros) : random.int8s(count, zeros: activationZeros)
            let input = try Tensor(shape: [p.inputChannels, p.inputHeight, p.inputWidth], scalars: activations)
            let values = random.int8s(p.outputChannels * g.reductionLength, zeros: weightZeros)
            let weights = packedForConvolution
                ? try Int8ConvolutionWeights(convolution: p, values: values)
                : try Int8ConvolutionWeights(outputChannels: p.outputChannels, reductionLength: g.reductionLength, values: values)
            #expect(weights.values == values)
            return (input, weights)
        }

        /// Every strategy on every instruction set gives the reference's bits, dense and sparse, with
        /// a nonzero padding value (an input zero point) and CACC truncation; `.dense` both through
        /// the direct kernel (weights packed for the convolution) and through im2col + GEMM.
        @Test(arguments: 0..<layers.count, [true, false])
        func everyStrategyMatchesReference(layerIndex: Int, packedForConvolution: Bool) throws {
            let p = Self.layers[layerIndex]
            defer { HostKernels.force(nil) }
            for (weightZeros, activationZeros, relu) in [(0.0, 0.0, false), (0.9, 0.8, true)] {
                let (input, weights) = try randomLayer(p, seed: UInt64(layerIndex * 7919) + UInt64(weightZeros * 10),
                                                       weightZeros: weightZeros, activationZeros: activationZeros, relu: relu,
                                                       packedForConvolution: packedForConvolution)
                for (padding, truncation) in [(Int8(0), 0), (Int8(-7), 3)] {
                    let expected = try ConvolutionCore.int8(input: input, weights: weights, parameters: p, paddingValue: padding,
                                                            truncation: truncation, strategy: .reference)
                    for isa in HostKernels.available {
                        HostKernels.force(isa)
                        for strategy in ConvolutionStrategy.allCases where strategy != .reference {
                            let got = try ConvolutionCore.int8(input: input, weights: weights, parameters: p, paddingValue: padding,
                                                               truncation: truncation, strategy: strategy)
                            #expect(got.accumulators == expected.accumulators, "layer \(layerIndex) \(strategy) \(isa) zeros \(weightZeros)")
                        }
                        let automatic = try ConvolutionCore.int8(input: input, weights: weights, parameters: p, paddingValue: padding, truncation: truncation)
                        #expect(automatic.accumulators == expected.accumulators)
                    }
                }
            }
        }

        /// Two threads split a direct convolution by pixel runs (64 channels) or by 64-channel
        /// blocks (128 channels); the bits are one thread's and im2col + GEMM's, on every
        /// instruction set, with truncation and a padding value.
        @Test(arguments: [64, 128])
        func threadsSplitTheDirectConvolutionWithoutChangingBits(channels: Int) throws {
            let p = ConvolutionParameters(inputChannels: channels, inputHeight: 13, inputWidth: 13, outputChannels: channels,
                                          kernelHeight: 3, kernelWidth: 3, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1)
            let g = try p.validated()
            #expect(g.macs >= 2 * ConvolutionCore.minimumMACsPerThread)
            var random = TestRandom(seed: 1818 + UInt64(channels))
            let input = try Tensor(shape: [channels, 13, 13], scalars: random.int8s(channels * 169, zeros: 0.3))
            let values = random.int8s(channels * g.reductionLength)
            let direct = try Int8ConvolutionWeights(convolution: p, values: values)
            let rows = try Int8ConvolutionWeights(outputChannels: channels, reductionLength: g.reductionLength, values: values)
            defer { HostKernels.force(nil) }
            for isa in HostKernels.available {
                HostKernels.force(isa)
                let expected = try ConvolutionCore.int8(input: input, weights: rows, parameters: p, paddingValue: -5, truncation: 2, strategy: .dense)
                for threads in [1, 2, 3] {
                    let got = try ConvolutionCore.int8(input: input, weights: direct, parameters: p, paddingValue: -5, truncation: 2,
                                                       strategy: .dense, threads: threads)
                    #expect(got.accumulators == expected.accumulators, "\(isa) \(threads) threads")
                }
            }
        }

        /// LeNet-300-100's first layer shape, 90 % pruned, on ReLU-like inputs (80 % zeros), batch 1 and 5.
        @Test(arguments: [1, 5])
        func fullyConnectedSparseMatchesReference(batch: Int) throws {
            var random = TestRandom(seed: 300 + UInt64(batch))
            let weights = try Int8ConvolutionWeights(outputChannels: 300, reductionLength: 784, values: random.int8s(300 * 784, zeros: 0.9))
            let input = try Tensor(shape: [batch, 784], scalars: random.reluInt8s(batch * 784, zeros: 0.8))
            let expected = try ConvolutionCore.int8FullyConnected(input: input, weights: weights, strategy: .reference)
            defer { HostKernels.force(nil) }
            for isa in HostKernels.available {
                HostKernels.force(isa)
                for strategy in ConvolutionStrategy.allCases {
                    let got = try ConvolutionCore.int8FullyConnected(input: input, weights: weights, strategy: strategy)
                    #expect(got.accumulators == expected.accumulators, "\(strategy) \(isa)")
                }
            }
            #expect(ConvolutionCore.automaticStrategy(weights: weights, activations: input.scalars, rows: batch, groups: 1)
                == (batch == 1 ? .skipZeroActivations : .dense))
            let verySparse = try Int8ConvolutionWeights(outputChannels: 300, reductionLength: 784, values: random.int8s(300 * 784, zeros: 0.97))
            #expect(ConvolutionCore.automaticStrategy(weights: verySparse, activations: input.scalars, rows: batch, groups: 1)
                == (batch == 1 ? .sparseWeightsAndActivations : .sparseWeights))
        }

        /// CACC: round half away from zero on truncation, then INT32 saturation (counted).
        @Test func caccTruncatesHalfAwayAndSaturates() throws {
            let weights = try Int8ConvolutionWeights(outputChannels: 2, reductionLength: 1, values: [1, -1])
            for (x, truncation, expected) in [(Int8(6), 2, [Int32(2), -2]), (5, 1, [3, -3]), (4, 3, [1, -1]), (3, 3, [0, 0])] {
                let input = try Tensor(shape: [1, 1], scalars: [x])
                let result = try ConvolutionCore.int8FullyConnected(input: input, weights: weights, truncation: truncation)
                #expect(result.accumulators.scalars == expected, "x \(x) truncation \(truncation)")
            }
            // 133,200 products of (−128)·(−128) = 2,182,348,800 > INT32.max: longer than one exact C
            // reduction, so the sum is split and joined in Int64, as the 34-bit CACC holds it.
            let k = 133_200
            let big = try Int8ConvolutionWeights(outputChannels: 1, reductionLength: k, values: [Int8](repeating: -128, count: k))
            let input = try Tensor(shape: [1, k], scalars: [Int8](repeating: -128, count: k))
            let saturated = try ConvolutionCore.int8FullyConnected(input: input, weights: big)
            #expect(saturated.accumulators.scalars == [Int32.max])
            #expect(saturated.saturatedCount == 1)
            let truncated = try ConvolutionCore.int8FullyConnected(input: input, weights: big, truncation: 1)
            #expect(truncated.accumulators.scalars == [Int32(2_182_348_800 / 2)])
            #expect(truncated.saturatedCount == 0)
        }

        /// Padding with the zero point, then subtracting zp·ΣW, equals convolving (x − zp) with zero
        /// padding: the hardware's asymmetric-input scheme.
        @Test func zeroPointPaddingPlusCompensationEqualsShiftedConvolution() throws {
            let p = Self.layers[1]
            var random = TestRandom(seed: 42)
            let g = try p.validated()
            let zeroPoint: Int32 = -20
            let raw = (0..<(p.inputChannels * p.inputHeight * p.inputWidth)).map { _ in Int32(random.int(in: -108...127)) }
            let input = try Tensor(shape: [p.inputChannels, p.inputHeight, p.inputWidth], scalars: raw.map { Int8($0) })
            let weights = try Int8ConvolutionWeights(outputChannels: p.outputChannels, reductionLength: g.reductionLength,
                                                     values: random.int8s(p.outputChannels * g.reductionLength))
            let hardware = try ConvolutionCore.int8(input: input, weights: weights, parameters: p, paddingValue: Int8(zeroPoint))
            let compensation = ConvolutionCore.zeroPointCompensation(weights: weights, inputZeroPoint: zeroPoint)
            let pixels = g.outputHeight * g.outputWidth
            for n in 0..<p.outputChannels {
                for oy in 0..<g.outputHeight {
                    for ox in 0..<g.outputWidth {
                        var exact: Int64 = 0
                        for c in 0..<p.inputChannels {
                            for r in 0..<p.kernelHeight {
                                for s in 0..<p.kernelWidth {
                                    let iy = oy * p.strideY - p.padTop + r, ix = ox * p.strideX - p.padLeft + s
                                    guard iy >= 0, iy < p.inputHeight, ix >= 0, ix < p.inputWidth else { continue }
                                    let x = Int64(raw[(c * p.inputHeight + iy) * p.inputWidth + ix]) - Int64(zeroPoint)
                                    exact += x * Int64(weights.values[n * g.reductionLength + (c * p.kernelHeight + r) * p.kernelWidth + s])
                                }
                            }
                        }
                        let index = n * pixels + oy * g.outputWidth + ox
                        #expect(Int64(hardware.accumulators.scalars[index]) - compensation[n] == exact)
                    }
                }
            }
        }

        /// FP path: products exact, block sums in Float64; on small integers every partial sum is exact,
        /// so the result equals the mathematically exact convolution for any atomic-C.
        @Test func floatConvolutionIsExactWhenSumsAre() throws {
            let p = Self.layers[0]
            let g = try p.validated()
            var random = TestRandom(seed: 7)
            let x = (0..<(p.inputChannels * p.inputHeight * p.inputWidth)).map { _ in Float(random.int(in: -8...8)) * 0.5 }
            let w = (0..<(p.outputChannels * g.reductionLength)).map { _ in Float(random.int(in: -8...8)) * 0.25 }
            let input = try Tensor(shape: [p.inputChannels, p.inputHeight, p.inputWidth], scalars: x)
            let weights = try Tensor(shape: [p.outputChannels, p.inputChannels, p.kernelHeight, p.kernelWidth], scalars: w)
            let a = try ConvolutionCore.float(input: input, weights: weights, parameters: p, atomicC: 1)
            let b = try ConvolutionCore.float(input: input, weights: weights, parameters: p, atomicC: 64)
            #expect(a == b)
            let intWeights = try Int8ConvolutionWeights(outputChannels: p.outputChannels, reductionLength: g.reductionLength, values: w.map { Int8($0 * 4) })
            let intInput = try Tensor(shape: input.shape, scalars: x.map { Int8($0 * 2) })
            let exact = try ConvolutionCore.int8(input: intInput, weights: intWeights, parameters: p)
            #expect(a.scalars == exact.accumulators.scalars.map { Float($0) / 8 })
        }

        @Test func rejectsBadParametersWithNamedErrors() throws {
            var p = Self.layers[0]
            p.strideX = 0
            #expect(throws: EngineError.invalidParameter(name: "strideX", expected: "1...8", found: "0")) { try p.validated() }
            p = Self.layers[0]
            p.groups = 2
            #expect(throws: EngineError.self) { try p.validated() }
            let weights = try Int8ConvolutionWeights(outputChannels: 5, reductionLength: 27, values: [Int8](repeating: 1, count: 135))
            let wrong = try Tensor(shape: [3, 9, 10], scalars: [Int8](repeating: 0, count: 270))
            #expect(throws: EngineError.shapeMismatch(what: "convolution input", expected: [3, 9, 11], found: [3, 9, 10])) {
                try ConvolutionCore.int8(input: wrong, weights: weights, parameters: Self.layers[0])
            }
            #expect(throws: EngineError.self) {
                try Int8ConvolutionWeights(outputChannels: 1, reductionLength: ConvolutionCore.maximumReductionLength + 1, values: [])
            }
        }
        /// The zero-skipping layouts are built on first use; several threads asking at once for a
        /// fresh copy of the weights all get the reference's bits (each layout is built once, under a lock).
        @Test func lazyLayoutsAreSafeUnderConcurrentFirstUse() async throws {
            var random = TestRandom(seed: 4242)
            let weights = try Int8ConvolutionWeights(outputChannels: 40, reductionLength: 96, values: random.int8s(40 * 96, zeros: 0.96))
            let input = try Tensor(shape: [1, 96], scalars: random.reluInt8s(96, zeros: 0.6))
            let expected = try ConvolutionCore.int8FullyConnected(input: input, weights: weights, strategy: .reference).accumulators
            let strategies: [ConvolutionStrategy] = [.sparseWeights, .skipZeroActivations, .sparseWeightsAndActivations]
            let results = try await withThrowingTaskGroup(of: Tensor<Int32>.self) { group in
                for index in 0..<12 {
                    group.addTask {
                        try ConvolutionCore.int8FullyConnected(input: input, weights: weights, strategy: strategies[index % strategies.count]).accumulators
                    }
                }
                var all: [Tensor<Int32>] = []
                for try await result in group { all.append(result) }
                return all
            }
            #expect(results.count == 12)
            for result in results { #expect(result == expected) }
            // Nonzeros counted at load agree with the layouts built later.
            #expect(weights.rows.index.count == weights.nonzeroCount && weights.columns.index.count == weights.nonzeroCount)
            #expect(weights.rows.start.last == Int64(weights.nonzeroCount) && weights.columns.start.last == Int64(weights.nonzeroCount))
        }
    }
}

/// nv_full's INT16 convolution: the same sums as INT8 on INT8-range data, exact beyond it, CACC's
/// truncation and INT32 saturation, and the 48-bit accumulator's reduction limit.
struct Int16ConvolutionTests {
    @Test func agreesWithInt8OnItsRangeAndSaturatesBeyond() throws {
        var random = TestRandom(seed: 16)
        let p = ConvolutionParameters(inputChannels: 5, inputHeight: 6, inputWidth: 7, outputChannels: 4, kernelHeight: 3, kernelWidth: 3,
                                      strideY: 2, strideX: 1, padTop: 1, padBottom: 1, padLeft: 2, padRight: 0)
        let input = random.int8s(5 * 6 * 7)
        let weights = random.int8s(4 * 5 * 3 * 3)
        let int8 = try ConvolutionCore.int8(input: try Tensor(shape: [5, 6, 7], scalars: input),
                                            weights: try Int8ConvolutionWeights(outputChannels: 4, reductionLength: 45, values: weights),
                                            parameters: p, paddingValue: -3, truncation: 2, strategy: .reference)
        let int16 = try ConvolutionCore.int16(input: try Tensor(shape: [5, 6, 7], scalars: input.map { Int16($0) }),
                                              weights: try Tensor(shape: [4, 5, 3, 3], scalars: weights.map { Int16($0) }),
                                              parameters: p, paddingValue: -3, truncation: 2)
        #expect(int16.accumulators == int8.accumulators)
        let big = ConvolutionParameters(inputChannels: 4, inputHeight: 1, inputWidth: 1, outputChannels: 1, kernelHeight: 1, kernelWidth: 1)
        let full = try ConvolutionCore.int16(input: try Tensor(shape: [4, 1, 1], repeating: Int16.min),
                                             weights: try Tensor(shape: [1, 4, 1, 1], repeating: Int16.min), parameters: big)
        // 4·2^30 = 2^32 saturates to INT32.max; truncating 2 bits leaves 2^30.
        #expect(full.accumulators.scalars == [Int32.max] && full.saturatedCount == 1)
        let truncated = try ConvolutionCore.int16(input: try Tensor(shape: [4, 1, 1], repeating: Int16.min),
                                                  weights: try Tensor(shape: [1, 4, 1, 1], repeating: Int16.min), parameters: big, truncation: 2)
        #expect(truncated.accumulators.scalars == [1 << 30] && truncated.saturatedCount == 0)
    }
}
