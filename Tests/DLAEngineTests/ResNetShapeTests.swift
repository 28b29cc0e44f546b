import DLAFormat
import Testing
@testable import DLAEngine

/// A ResNet basic block with a projection shortcut, lowered as ResNetBenchmark lowers ResNet-18
/// (padded max pool 3×3/2; 3×3/2 convolution + SDP bias, per-channel multiplier, ReLU; 3×3
/// convolution whose SDP adds the aligned 1×1/2 projection with 8 extra fraction bits, applies
/// ReLU and rounds in the converter), written and read as a `.dla` file and run by the executor,
/// against plain integer loops written from the operation vocabulary (docs/EMULATOR.md).
struct ResNetShapeTests {
    static let channels = 4, width = 8, hidden = 8, batch = 3

    struct Layer {
        var outputs: Int, inputs: Int, kernel: Int, stride: Int, padding: Int
        var weights: [Int8], bias: [Int32], multipliers: [Int32]
    }

    static func layer(_ random: inout TestRandom, _ outputs: Int, _ inputs: Int, kernel: Int, stride: Int) -> Layer {
        Layer(outputs: outputs, inputs: inputs, kernel: kernel, stride: stride, padding: kernel / 2,
              weights: random.int8s(outputs * inputs * kernel * kernel, zeros: 0.2),
              bias: (0..<outputs).map { _ in Int32(random.int(in: -3000...3000)) },
              multipliers: (0..<outputs).map { _ in Int32(random.int(in: 8000...16000)) })
    }

    static let shift = 22, residualShift = 14, fractionBits = 8, shortcutScale = 20000, shortcutShift = 6

    // MARK: - Plain reference

    static func roundHalfAway(_ x: Int64, _ shift: Int) -> Int64 {
        guard shift > 0 else { return x }
        let half = Int64(1) << (shift - 1)
        return x >= 0 ? (x + half) >> shift : -((-x + half) >> shift)
    }

    static func int32(_ x: Int64) -> Int64 { min(max(x, Int64(Int32.min)), Int64(Int32.max)) }

    /// `[C, H, W]` → `[K, OH, OW]` sums, zero padding.
    static func convolution(_ x: [Int64], height: Int, _ l: Layer) -> (values: [Int64], size: Int) {
        let size = (height + 2 * l.padding - l.kernel) / l.stride + 1
        var out = [Int64](repeating: 0, count: l.outputs * size * size)
        for k in 0..<l.outputs {
            for oy in 0..<size {
                for ox in 0..<size {
                    var sum: Int64 = 0
                    for c in 0..<l.inputs {
                        for r in 0..<l.kernel {
                            for s in 0..<l.kernel {
                                let y = oy * l.stride + r - l.padding, x2 = ox * l.stride + s - l.padding
                                guard y >= 0, y < height, x2 >= 0, x2 < height else { continue }
                                sum += x[(c * height + y) * height + x2] * Int64(l.weights[((k * l.inputs + c) * l.kernel + r) * l.kernel + s])
                            }
                        }
                    }
                    out[(k * size + oy) * size + ox] = sum
                }
            }
        }
        return (out, size)
    }

    /// bias → multiplier >> shift → [+ (operand · scale >> shift)] → [ReLU] → converter >> cvtShift, INT8.
    static func sdp(_ acc: [Int64], _ l: Layer, shift: Int, relu: Bool, operand: [Int64]?, cvtShift: Int) -> [Int64] {
        let plane = acc.count / l.outputs
        return acc.indices.map { i in
            let k = i / plane
            var v = int32(acc[i] + Int64(l.bias[k]))
            v = int32(roundHalfAway(v * Int64(l.multipliers[k]), shift))
            if let operand { v = int32(v + int32(roundHalfAway(operand[i] * Int64(shortcutScale), shortcutShift))) }
            if relu { v = max(v, 0) }
            return min(max(roundHalfAway(v, cvtShift), -128), 127)
        }
    }

    static func maxPool(_ x: [Int64], channels: Int, height: Int) -> (values: [Int64], size: Int) {
        let size = (height + 2 - 3) / 2 + 1
        var out: [Int64] = []
        for c in 0..<channels {
            for oy in 0..<size {
                for ox in 0..<size {
                    var best = Int64.min
                    for r in 0..<3 {
                        for s in 0..<3 {
                            let y = oy * 2 + r - 1, x2 = ox * 2 + s - 1
                            if y >= 0, y < height, x2 >= 0, x2 < height { best = max(best, x[(c * height + y) * height + x2]) }
                        }
                    }
                    out.append(best)
                }
            }
        }
        return (out, size)
    }

    /// The block's output; `shortcut: false` leaves the residual add out (to show that it matters).
    static func reference(_ image: [Int8], a: Layer, b: Layer, projection: Layer, shortcut withShortcut: Bool = true) -> [Int8] {
        let pooled = maxPool(image.map(Int64.init), channels: channels, height: width)
        let first = convolution(pooled.values, height: pooled.size, a)
        let hiddenCodes = sdp(first.values, a, shift: shift, relu: true, operand: nil, cvtShift: 0)
        let shortcut = sdp(convolution(pooled.values, height: pooled.size, projection).values, projection, shift: shift, relu: false,
                           operand: nil, cvtShift: 0)
        let second = convolution(hiddenCodes, height: first.size, b)
        return sdp(second.values, b, shift: residualShift, relu: true, operand: withShortcut ? shortcut : nil, cvtShift: fractionBits).map { Int8($0) }
    }

    // MARK: - The model

    /// The block as a `.dla` model on `[channels, width, width]` inputs.
    static func model(a: Layer, b: Layer, projection: Layer, channels: Int = channels, width: Int = width) throws -> DLALoadedModel {
        var tensors: [DLATensorSpec] = []
        var weights: [DLAWeightTensor] = []
        var operations: [DLAOperation] = []
        func tensor(_ name: String, _ shape: [Int64], _ type: DLADataType) -> Int {
            tensors.append(DLATensorSpec(name: name, shape: [-1] + shape, dataType: type,
                                         quantization: type == .int8 ? .perTensor(scale: 0.05, zeroPoint: 0) : .none))
            return tensors.count - 1
        }
        func weight(_ name: String, _ shape: [Int], _ values: DLATensorValues) -> DLAAttributeValue {
            weights.append(DLAWeightTensor(name: name, shape: shape, values: values))
            return .weight(weights.count - 1)
        }
        func convolution(_ name: String, _ l: Layer, input: Int, size: Int64, shift: Int, relu: Bool, operand: Int?, cvtShift: Int) -> Int {
            let s = Int64(l.stride), p = Int64(l.padding)
            let acc = tensor(name + ".acc", [Int64(l.outputs), size, size], .int32)
            operations.append(DLAOperation(name: name, unit: .convolution, type: "conv", inputs: [input], outputs: [acc], attributes: [
                DLAAttribute("weight", weight(name + ".weight", [l.outputs, l.inputs, l.kernel, l.kernel], .int8(l.weights))),
                DLAAttribute("stride", .ints([s, s])), DLAAttribute("padding", .ints([p, p, p, p])),
            ]))
            let out = tensor(name + ".out", [Int64(l.outputs), size, size], .int8)
            var attributes = [DLAAttribute("bias", weight(name + ".bias", [l.outputs], .int32(l.bias))),
                              DLAAttribute("scale", weight(name + ".multiplier", [l.outputs], .int32(l.multipliers))),
                              DLAAttribute("scale_shift", .int(Int64(shift))),
                              DLAAttribute("activation", .string(relu ? "relu" : "none")),
                              DLAAttribute("cvt_shift", .int(Int64(cvtShift)))]
            if operand != nil {
                attributes += [DLAAttribute("ew_op", .string("add")), DLAAttribute("ew_scale", .int(Int64(shortcutScale))),
                               DLAAttribute("ew_shift", .int(Int64(shortcutShift)))]
            }
            operations.append(DLAOperation(name: name + ".sdp", unit: .sdp, type: "sdp", inputs: [acc] + (operand.map { [$0] } ?? []),
                                           outputs: [out], attributes: attributes))
            return out
        }
        let pooledSize = Int64((width - 1) / 2 + 1), size = (pooledSize - 1) / 2 + 1
        let input = tensor("input", [Int64(channels), Int64(width), Int64(width)], .int8)
        let pooled = tensor("maxpool", [Int64(channels), pooledSize, pooledSize], .int8)
        operations.append(DLAOperation(name: "maxpool", unit: .pdp, type: "pool", inputs: [input], outputs: [pooled], attributes: [
            DLAAttribute("method", .string("max")), DLAAttribute("kernel", .ints([3, 3])), DLAAttribute("stride", .ints([2, 2])),
            DLAAttribute("padding", .ints([1, 1, 1, 1])),
        ]))
        let first = convolution("conv1", a, input: pooled, size: size, shift: shift, relu: true, operand: nil, cvtShift: 0)
        let shortcut = convolution("downsample", projection, input: pooled, size: size, shift: shift, relu: false, operand: nil, cvtShift: 0)
        let output = convolution("conv2", b, input: first, size: size, shift: residualShift, relu: true, operand: shortcut, cvtShift: fractionBits)
        let metadata = DLAMetadata(name: "resnet-block", producer: "DLAEngineTests", createdAt: 0, targetProfile: "nv_full", precision: "int8",
                                   inputs: [tensors[input]], outputs: [tensors[output]])
        let model = DLAModel(metadata: metadata, graph: DLAGraph(tensors: tensors, inputs: [input], outputs: [output], operations: operations),
                             weights: weights)
        return try DLAFile.read(try DLAFile.write(model, environment: [:]))
    }

    @Test func basicBlockWithProjectionMatchesPlainIntegerLoops() throws {
        var random = TestRandom(seed: 18)
        let a = Self.layer(&random, Self.hidden, Self.channels, kernel: 3, stride: 2)
        let b = Self.layer(&random, Self.hidden, Self.hidden, kernel: 3, stride: 1)
        let projection = Self.layer(&random, Self.hidden, Self.channels, kernel: 1, stride: 2)
        let imageSize = Self.channels * Self.width * Self.width
        let images = random.int8s(Self.batch * imageSize, zeros: 0.3)
        var expected: [Int8] = [], withoutShortcut: [Int8] = []
        for n in 0..<Self.batch {
            let image = Array(images[(n * imageSize)..<((n + 1) * imageSize)])
            expected += Self.reference(image, a: a, b: b, projection: projection)
            withoutShortcut += Self.reference(image, a: a, b: b, projection: projection, shortcut: false)
        }
        // The data exercise the arithmetic: a quarter of the outputs strictly inside (0, 127),
        // few saturated, and the shortcut changes many of them.
        let inside = expected.filter { $0 > 0 && $0 < 127 }.count, saturated = expected.filter { $0 == 127 }.count
        #expect(inside * 4 > expected.count && saturated * 10 < expected.count, "\(inside) inside, \(saturated) at 127 of \(expected.count)")
        #expect(zip(expected, withoutShortcut).filter { $0 != $1 }.count * 4 > expected.count)

        let compiled = try ModelAdapter.compile(try Self.model(a: a, b: b, projection: projection))
        let input = try Tensor(shape: [Self.batch, Self.channels, Self.width, Self.width], scalars: images)
        for (threads, strategy) in [(1, nil), (2, nil), (1, ConvolutionStrategy.reference)] as [(Int, ConvolutionStrategy?)] {
            let result = try Executor(model: compiled, profile: .nvFull, threads: threads, strategy: strategy).run([.int8(input)])
            guard case .int8(let output) = result.outputs[0] else {
                Issue.record("output type \(result.outputs[0].typeName)")
                continue
            }
            #expect(output.shape == [Self.batch, Self.hidden, 2, 2])
            #expect(output.scalars == expected, "threads \(threads) strategy \(String(describing: strategy))")
        }
    }
}
