import DLANumerics
import Testing
@testable import DLAEngine

extension InstructionSetForcing {
    /// The executor's C fast paths against the units' Swift programs, on every instruction set.
    @Suite struct KernelTwinTests {
        /// INT32 accumulators with the extremes that make stages saturate.
        static func accumulators(_ count: Int, _ random: inout TestRandom) -> [Int32] {
            (0..<count).map { _ in
                switch random.int(in: 0...9) {
                case 0: Int32.max
                case 1: Int32.min
                case 2: Int32(truncatingIfNeeded: random.next())
                default: Int32(random.int(in: -100_000...100_000))
                }
            }
        }

        @Test func fusedSDPMatchesTheStageByStageProgramBitForBit() throws {
            var random = TestRandom(seed: 7)
            defer { HostKernels.force(nil) }
            for trial in 0..<200 {
                // inner 1 is the fully connected layout (per-lane operands); longer runs cross the 8-lane vectors.
                let rows = random.int(in: 1...3), channels = random.int(in: 1...19), inner = [1, 1, 3, 8, 13][random.int(in: 0...4)]
                var stages: [SDPStage] = []
                if random.int(in: 0...3) > 0 {
                    stages.append(.add(random.int(in: 0...1) == 0 ? .constant(Int32(random.int(in: -5000...5000)))
                                                                    : .perChannel(KernelTwinTests.accumulators(channels, &random))))
                }
                if random.int(in: 0...3) > 0 {
                    let wide = random.int(in: 0...4) == 0
                    let multipliers = (0..<channels).map { _ in wide ? Int32(truncatingIfNeeded: random.next()) : Int32(random.int(in: -32768...32767)) }
                    stages.append(.multiply(.perChannel(multipliers), shift: random.int(in: 0...40)))
                }
                if random.int(in: 0...1) == 0 { stages.append(.relu) }
                let converter = OutputConverter(offset: Int32(random.int(in: -300...300)), scale: random.int(in: 0...4) == 0 ? Int16(truncatingIfNeeded: random.next()) : Int16(random.int(in: -4...300)),
                                                shift: UInt8(random.int(in: 0...20)))
                let parameters = SDPParameters(stages: stages, converter: converter)
                let input = try Tensor(shape: [rows, channels, inner], scalars: KernelTwinTests.accumulators(rows * channels * inner, &random))
                let expected = try SDP.run(input, parameters, profile: .nvFull, channelAxis: 1)
                let fused = try #require(FusedSDP(parameters, channels: channels))
                for isa in HostKernels.available {
                    #expect(HostKernels.force(isa))
                    var output = [Int8](repeating: 0, count: input.count)
                    input.scalars.withUnsafeBufferPointer { source in
                        output.withUnsafeMutableBufferPointer { fused.run(source, inner: inner, into: $0) }
                    }
                    #expect(output == expected.scalars, "trial \(trial) on \(isa): \(stages) \(converter)")
                }
            }
        }

        /// The residual SDP (bias, multiplier, element-wise add of an aligned INT8 operand, ReLU,
        /// converter) against `SDP.run` on the operand aligned as the executor's stage-by-stage path
        /// aligns it, with extreme accumulators, operands, offsets, scales and shifts.
        @Test func fusedResidualSDPMatchesTheStageByStageProgramBitForBit() throws {
            var random = TestRandom(seed: 17)
            defer { HostKernels.force(nil) }
            for trial in 0..<200 {
                let rows = random.int(in: 1...3), channels = random.int(in: 1...19), inner = [1, 1, 3, 8, 13][random.int(in: 0...4)]
                var before: [SDPStage] = []
                if random.int(in: 0...3) > 0 {
                    before.append(.add(.perChannel(KernelTwinTests.accumulators(channels, &random))))
                }
                if random.int(in: 0...3) > 0 {
                    let multipliers = (0..<channels).map { _ in Int32(random.int(in: -32768...32767)) }
                    before.append(.multiply(.perChannel(multipliers), shift: random.int(in: 0...40)))
                }
                let after: [SDPStage] = random.int(in: 0...1) == 0 ? [.relu] : []
                let offsets: [Int32] = [0, -128, 127, Int32.max, Int32.min, Int32(random.int(in: -300...300))]
                let aligner = OutputConverter(offset: offsets[random.int(in: 0...(offsets.count - 1))],
                                              scale: random.int(in: 0...3) == 0 ? Int16(truncatingIfNeeded: random.next()) : Int16(random.int(in: -4...300)),
                                              shift: UInt8(random.int(in: 0...63)))
                let converter = OutputConverter(offset: Int32(random.int(in: -300...300)), scale: Int16(random.int(in: -4...300)),
                                                shift: UInt8(random.int(in: 0...20)))
                let layer = SDPLayer(before: before, elementwise: .init(operation: .add, operandConverter: aligner), after: after,
                                     converter: converter, outputType: .int8)
                let count = rows * channels * inner
                let input = try Tensor(shape: [rows, channels, inner], scalars: KernelTwinTests.accumulators(count, &random))
                let operand: [Int8] = (0..<count).map { _ in
                    switch random.int(in: 0...5) {
                    case 0: Int8.min
                    case 1: Int8.max
                    case 2: 0
                    default: Int8(truncatingIfNeeded: random.next())
                    }
                }
                let aligned = try Tensor(shape: input.shape, scalars: operand.map { aligner.convert(Int64($0), to: Int32.min...Int32.max) })
                let expected = try SDP.run(input, layer.parameters(operand: aligned), profile: .nvFull, channelAxis: 1)
                let fused = try #require(FusedSDP(layer, channels: channels))
                #expect(fused.addsOperand)
                for isa in HostKernels.available {
                    #expect(HostKernels.force(isa))
                    var output = [Int8](repeating: 0, count: count)
                    input.scalars.withUnsafeBufferPointer { source in
                        operand.withUnsafeBufferPointer { y in
                            output.withUnsafeMutableBufferPointer { fused.run(source, operand: y, inner: inner, into: $0) }
                        }
                    }
                    #expect(output == expected.scalars, "trial \(trial) on \(isa): \(before) + \(aligner) \(after) \(converter)")
                }
            }
            // An element-wise max does not fuse; an add does after any BS / BN stages, but no BS or BN
            // stage after it.
            let maximum = SDPLayer(before: [], elementwise: .init(operation: .maximum, operandConverter: .identity), after: [],
                                   converter: .identity, outputType: .int8)
            #expect(FusedSDP(maximum, channels: 2) == nil)
            let afterReLU = SDPLayer(before: [.relu], elementwise: .init(operation: .add, operandConverter: .identity), after: [],
                                     converter: .identity, outputType: .int8)
            #expect(FusedSDP(afterReLU, channels: 2) != nil)
            let biasAfterOperand = SDPLayer(before: [], elementwise: .init(operation: .add, operandConverter: .identity),
                                            after: [.add(.constant(1))], converter: .identity, outputType: .int8)
            #expect(FusedSDP(biasAfterOperand, channels: 2) == nil)
        }

        /// The rounding shifts at their extremes: the largest products (|x·m| just below 2^62) at
        /// shifts up to 63, ties on both signs.
        @Test func fusedSDPRoundsExtremeProductsAsTheStageByStageProgram() throws {
            defer { HostKernels.force(nil) }
            let inputs: [Int32] = [Int32.min, Int32.max, Int32.min + 1, -1, 1, 0, 1 << 30, -(1 << 30), 3, -3, 6, -6]
            for multiplier in [Int32.max, -Int32.max, 1, -1, 3] {
                for shift in [1, 2, 31, 61, 62, 63] {
                    let parameters = SDPParameters(stages: [.multiply(.constant(multiplier), shift: shift), .multiply(.constant(multiplier), shift: shift)],
                                                   converter: OutputConverter(offset: 0, scale: 1, shift: 1))
                    let input = try Tensor(shape: [inputs.count, 1], scalars: inputs)
                    let expected = try SDP.run(input, parameters, profile: .nvFull, channelAxis: 1)
                    let fused = try #require(FusedSDP(parameters, channels: 1))
                    for isa in HostKernels.available {
                        #expect(HostKernels.force(isa))
                        var output = [Int8](repeating: 0, count: inputs.count)
                        inputs.withUnsafeBufferPointer { source in output.withUnsafeMutableBufferPointer { fused.run(source, inner: 1, into: $0) } }
                        #expect(output == expected.scalars, "multiplier \(multiplier) shift \(shift) on \(isa)")
                    }
                }
            }
        }

        /// Two-stage programs (BS with its clip, BN, Y's per-channel add, an activation clip), with
        /// and without an operand, on INT32 accumulators and on INT8 codes (an SDP reading an activation): the C
        /// pass on every instruction set against `SDP.run` on the same values widened to INT32.
        @Test func fusedTwoStageSDPOnAccumulatorsAndCodesMatchesTheStageByStageProgramBitForBit() throws {
            var random = TestRandom(seed: 23)
            defer { HostKernels.force(nil) }
            func multiplier(_ channels: Int) -> SDPStage {
                .multiply(.perChannel((0..<channels).map { _ in Int32(random.int(in: -32768...32767)) }), shift: random.int(in: 0...40))
            }
            func clip() -> SDPStage {
                if random.int(in: 0...2) == 0 { return .relu }
                let lower = Int32(random.int(in: -300...100))
                return .clip(lower: lower, upper: lower + Int32(random.int(in: 0...400)))
            }
            for trial in 0..<300 {
                let rows = random.int(in: 1...3), channels = random.int(in: 1...19), inner = [1, 1, 3, 8, 13][random.int(in: 0...4)]
                var before: [SDPStage] = []
                if random.int(in: 0...3) > 0 { before.append(.add(.perChannel(KernelTwinTests.accumulators(channels, &random)))) }
                if random.int(in: 0...3) > 0 { before.append(multiplier(channels)) }
                if random.int(in: 0...1) == 0 { before.append(clip()) }
                if random.int(in: 0...1) == 0 { before.append(.add(.perChannel((0..<channels).map { _ in Int32(random.int(in: -1000...1000)) }))) }
                if random.int(in: 0...1) == 0 { before.append(multiplier(channels)) }
                let withOperand = random.int(in: 0...1) == 0
                var after: [SDPStage] = []
                // Y's ALU adds a per-channel bias when it has no element-wise operand.
                if !withOperand, random.int(in: 0...1) == 0 {
                    after.append(.add(.perChannel((0..<channels).map { _ in Int32(random.int(in: -70_000...70_000)) })))
                }
                if random.int(in: 0...1) == 0 { after.append(clip()) }
                let aligner = OutputConverter(offset: Int32(random.int(in: -300...300)), scale: Int16(random.int(in: -4...300)),
                                              shift: UInt8(random.int(in: 0...20)))
                let converter = OutputConverter(offset: Int32(random.int(in: -300...300)), scale: Int16(random.int(in: -4...300)),
                                                shift: UInt8(random.int(in: 0...20)))
                let layer = SDPLayer(before: before, elementwise: withOperand ? .init(operation: .add, operandConverter: aligner) : nil,
                                     after: after, converter: converter, outputType: .int8)
                let count = rows * channels * inner
                let codes = random.int8s(count, zeros: 0.2)
                let operand = random.int8s(count, zeros: 0.2)
                let aligned = try Tensor(shape: [rows, channels, inner], scalars: operand.map { aligner.convert(Int64($0), to: Int32.min...Int32.max) })
                let fused = try #require(FusedSDP(layer, channels: channels), "trial \(trial): \(before) \(after)")
                for (name, input) in [("accumulators", KernelTwinTests.accumulators(count, &random)), ("codes", codes.map(Int32.init))] {
                    let tensor = try Tensor(shape: [rows, channels, inner], scalars: input)
                    let expected = try SDP.run(tensor, layer.parameters(operand: withOperand ? aligned : nil), profile: .nvFull, channelAxis: 1)
                    for isa in HostKernels.available {
                        #expect(HostKernels.force(isa))
                        var output = [Int8](repeating: 0, count: count)
                        operand.withUnsafeBufferPointer { y in
                            output.withUnsafeMutableBufferPointer { out in
                                if name == "codes" {
                                    codes.withUnsafeBufferPointer { fused.run($0, operand: withOperand ? y : nil, inner: inner, into: out) }
                                } else {
                                    input.withUnsafeBufferPointer { fused.run($0, operand: withOperand ? y : nil, inner: inner, into: out) }
                                }
                            }
                        }
                        #expect(output == expected.scalars, "trial \(trial) \(name) on \(isa): \(before) \(withOperand ? "+ operand" : "") \(after) \(converter)")
                    }
                }
            }
        }

        @Test func unpaddedBatchPoolingMatchesPDPPerSample() throws {
            var random = TestRandom(seed: 11)
            defer { HostKernels.force(nil) }
            for (method, kernel, stride, height, width) in [(PDPParameters.Method.maximum, 2, 2, 24, 24), (.maximum, 2, 2, 9, 71),
                                                          (.minimum, 3, 2, 9, 8), (.maximum, 3, 1, 5, 7), (.maximum, 1, 1, 1, 1),
                                                          (.maximum, 3, 2, 7, 133), (.minimum, 3, 2, 5, 66), (.maximum, 3, 2, 3, 3)] {
                let p = PDPParameters(method: method, kernelHeight: kernel, kernelWidth: kernel, strideY: stride, strideX: stride)
                let batch = 3, channels = 4
                let input = try Tensor(shape: [batch, channels, height, width], scalars: random.int8s(batch * channels * height * width, zeros: 0.3))
                var expected: [Int8] = []
                for n in 0..<batch {
                    let sample = Array(input.scalars[(n * channels * height * width)..<((n + 1) * channels * height * width)])
                    expected += try PDP.run(try Tensor(shape: [channels, height, width], scalars: sample), p, profile: .nvFull).scalars
                }
                for isa in HostKernels.available {
                    #expect(HostKernels.force(isa))
                    let pooled = try #require(try PDP.runUnpaddedBatch(input, p))
                    #expect(pooled.scalars == expected, "\(method) \(kernel)/\(stride) on \(height)×\(width), \(isa)")
                }
            }
            let padded = PDPParameters(method: .maximum, kernelHeight: 2, kernelWidth: 2, strideY: 2, strideX: 2, padTop: 1)
            #expect(try PDP.runUnpaddedBatch(try Tensor(shape: [1, 1, 4, 4], repeating: 0), padded) == nil)
            let average = PDPParameters(method: .average, kernelHeight: 2, kernelWidth: 2, strideY: 2, strideX: 2)
            #expect(try PDP.runUnpaddedBatch(try Tensor(shape: [1, 1, 4, 4], repeating: 0), average) == nil)
        }

        /// Padded max/min pooling (ResNet's 3×3/2 with padding 1 among them) against `PDP.run` per
        /// sample, with ±128/127 values and a nonzero pad value, which max and min ignore.
        @Test func paddedBatchPoolingMatchesPDPPerSample() throws {
            var random = TestRandom(seed: 19)
            defer { HostKernels.force(nil) }
            let cases: [(PDPParameters.Method, Int, Int, Int, Int, Int, Int)] = [
                (.maximum, 3, 2, 1, 1, 12, 12), (.maximum, 3, 2, 1, 1, 11, 9), (.minimum, 3, 2, 2, 0, 9, 8),
                (.maximum, 2, 2, 0, 1, 7, 7), (.maximum, 3, 1, 2, 2, 5, 6), (.minimum, 2, 3, 1, 1, 4, 10), (.maximum, 3, 3, 2, 2, 1, 1),
            ]
            for (method, kernel, stride, padBefore, padAfter, height, width) in cases {
                let p = PDPParameters(method: method, kernelHeight: kernel, kernelWidth: kernel, strideY: stride, strideX: stride,
                                      padTop: padBefore, padBottom: padAfter, padLeft: padBefore, padRight: padAfter, paddingValue: 5)
                let batch = 2, channels = 3
                let count = batch * channels * height * width
                let values: [Int8] = (0..<count).map { _ in
                    switch random.int(in: 0...5) {
                    case 0: Int8.min
                    case 1: Int8.max
                    default: Int8(truncatingIfNeeded: random.next())
                    }
                }
                let input = try Tensor(shape: [batch, channels, height, width], scalars: values)
                var expected: [Int8] = []
                for n in 0..<batch {
                    let sample = Array(values[(n * channels * height * width)..<((n + 1) * channels * height * width)])
                    expected += try PDP.run(try Tensor(shape: [channels, height, width], scalars: sample), p, profile: .nvFull).scalars
                }
                for isa in HostKernels.available {
                    #expect(HostKernels.force(isa))
                    let pooled = try #require(try PDP.runPaddedBatch(input, p))
                    #expect(pooled.scalars == expected, "\(method) \(kernel)/\(stride) pad \(padBefore),\(padAfter) on \(height)×\(width), \(isa)")
                }
            }
            // A window wholly in padding yields the pad value: left to `PDP.run`.
            let wholly = PDPParameters(method: .maximum, kernelHeight: 2, kernelWidth: 2, strideY: 2, strideX: 2, padTop: 2, paddingValue: 5)
            #expect(try PDP.runPaddedBatch(try Tensor(shape: [1, 1, 4, 4], repeating: 0), wholly) == nil)
            let unpadded = PDPParameters(method: .maximum, kernelHeight: 2, kernelWidth: 2, strideY: 2, strideX: 2)
            #expect(try PDP.runPaddedBatch(try Tensor(shape: [1, 1, 4, 4], repeating: 0), unpadded) == nil)
        }

        @Test func inputConverterMatchesAffineQuantization() throws {
            var random = TestRandom(seed: 13)
            defer { HostKernels.force(nil) }
            // Power-of-two scales (MNIST's 2^-8) take a multiplication; others, a subnormal one included, divide.
            for (scale, zeroPoint) in [(Float(0.0123), Int32(-128)), (0.0123, 0), (0.0123, 37), (0x1p-8, -128), (0x1p100, 3), (0x1p-140, 0)] {
                var values: [Float] = [.nan, .infinity, -.infinity, 0, -0.0, 1e30, -1e30, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
                values += (-300...300).map { Float($0) * scale + scale / 2 }  // ties after the division, more or less
                values += (0..<2000).map { _ in Float(random.unit() * 8 - 4) * scale * 100 }
                let expected = values.map { Int8(truncatingIfNeeded: AffineQuantization.quantize($0, scale: scale, zeroPoint: zeroPoint, type: .int8)) }
                for isa in HostKernels.available {
                    #expect(HostKernels.force(isa))
                    let codes = try CPUFallback.quantize(try Tensor(shape: [values.count], scalars: values), scale: scale, zeroPoint: zeroPoint)
                    #expect(codes.scalars == expected, "scale \(scale), zero point \(zeroPoint) on \(isa)")
                }
            }
        }
    }
}
