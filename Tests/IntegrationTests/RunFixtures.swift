import DLAFormat
import Foundation

/// Small INT8 models for `dlactl run` / `perf`, written with the engine's operation vocabulary,
/// and their expected outputs computed here with plain integer arithmetic (never by the engine).
enum RunFixtures {
    /// A deterministic generator (64-bit LCG) so failures reproduce.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 33
        }
        mutating func int(in range: ClosedRange<Int>) -> Int {
            range.lowerBound + Int(next() % UInt64(range.count))
        }
        mutating func int8s(_ count: Int) -> [Int8] { (0..<count).map { _ in Int8(int(in: -128...127)) } }
    }

    static func write(_ model: DLAModel, to path: String) throws {
        try Data(try DLAFile.write(model, environment: [:])).write(to: URL(fileURLWithPath: path))
    }

    static func metadata(_ name: String, inputs: [DLATensorSpec], outputs: [DLATensorSpec]) -> DLAMetadata {
        DLAMetadata(name: name, producer: "IntegrationTests", createdAt: 0, targetProfile: "nv_full", precision: "int8",
                    inputs: inputs, outputs: outputs)
    }

    // MARK: - fc → sdp (bias, ReLU, converter) → fc → sdp → cpu/softmax

    struct MLP {
        static let inputScale: Float = 1.0 / 16
        static let inputZeroPoint = 3
        static let logitScale: Float = 0.125
        var w1: [Int8]  // [8, 16]
        var b1: [Int32]
        var w2: [Int8]  // [4, 8]
        var b2: [Int32]
        var activation = "relu"

        init(seed: UInt64 = 7) {
            var random = Random(state: seed)
            w1 = random.int8s(8 * 16)
            b1 = (0..<8).map { _ in Int32(random.int(in: -3000...3000)) }
            w2 = random.int8s(4 * 8)
            b2 = (0..<4).map { _ in Int32(random.int(in: -2000...2000)) }
        }

        /// Outputs: the INT8 logits (dequantized in the file) and the softmax probabilities.
        var model: DLAModel {
            let x = DLATensorSpec(name: "x", shape: [-1, 16], dataType: .int8, quantization: .perTensor(scale: Self.inputScale, zeroPoint: Int32(Self.inputZeroPoint)))
            let tensors = [
                x,
                DLATensorSpec(name: "fc1_acc", shape: [-1, 8], dataType: .int32),
                DLATensorSpec(name: "hidden", shape: [-1, 8], dataType: .int8, quantization: .perTensor(scale: 0.1, zeroPoint: 0)),
                DLATensorSpec(name: "fc2_acc", shape: [-1, 4], dataType: .int32),
                DLATensorSpec(name: "logits", shape: [-1, 4], dataType: .int8, quantization: .perTensor(scale: Self.logitScale, zeroPoint: 0)),
                DLATensorSpec(name: "probabilities", shape: [-1, 4], dataType: .float32),
            ]
            let operations = [
                DLAOperation(name: "fc1", unit: .convolution, type: "fc", inputs: [0], outputs: [1], attributes: [DLAAttribute("weight", .weight(0))]),
                DLAOperation(name: "sdp1", unit: .sdp, type: "sdp", inputs: [1], outputs: [2],
                             attributes: [DLAAttribute("bias", .weight(1)), DLAAttribute("activation", .string(activation)),
                                          DLAAttribute("cvt_scale", .int(5)), DLAAttribute("cvt_shift", .int(11))]),
                DLAOperation(name: "fc2", unit: .convolution, type: "fc", inputs: [2], outputs: [3], attributes: [DLAAttribute("weight", .weight(2))]),
                DLAOperation(name: "sdp2", unit: .sdp, type: "sdp", inputs: [3], outputs: [4],
                             attributes: [DLAAttribute("bias", .weight(3)), DLAAttribute("cvt_scale", .int(3)), DLAAttribute("cvt_shift", .int(10))]),
                DLAOperation(name: "softmax", unit: .cpu, type: "softmax", inputs: [4], outputs: [5]),
            ]
            let weights = [
                DLAWeightTensor(name: "fc1.weight", shape: [8, 16], values: .int8(w1)),
                DLAWeightTensor(name: "sdp1.bias", shape: [8], values: .int32(b1)),
                DLAWeightTensor(name: "fc2.weight", shape: [4, 8], values: .int8(w2)),
                DLAWeightTensor(name: "sdp2.bias", shape: [4], values: .int32(b2)),
            ]
            return DLAModel(metadata: metadata("mlp", inputs: [x], outputs: [tensors[4], tensors[5]]),
                            graph: DLAGraph(tensors: tensors, inputs: [0], outputs: [4, 5], operations: operations), weights: weights)
        }

        /// Per sample: fc1's accumulators, the hidden codes, the logit codes and the probabilities.
        func expected(codes: [Int8]) -> (fc1: [Int32], hidden: [Int8], logits: [Int8], probabilities: [Float]) {
            var fc1: [Int32] = []
            var hidden: [Int8] = []
            for o in 0..<8 {
                var sum = 0
                for k in 0..<16 { sum += Int(w1[o * 16 + k]) * Int(codes[k]) }
                fc1.append(Int32(sum))
                hidden.append(convert(max(sum + Int(b1[o]), 0), scale: 5, shift: 11))
            }
            var logits: [Int8] = []
            for o in 0..<4 {
                var sum = Int(b2[o])
                for k in 0..<8 { sum += Int(w2[o * 8 + k]) * Int(hidden[k]) }
                logits.append(convert(sum, scale: 3, shift: 10))
            }
            return (fc1, hidden, logits, softmax(logits.map { Float($0) * Self.logitScale }))
        }
    }

    // MARK: - conv → sdp → pdp

    struct CNN {
        static let zeroPoint = -3
        var weights: [Int8]  // [2, 1, 3, 3]
        var bias: [Int32]

        init(seed: UInt64 = 11) {
            var random = Random(state: seed)
            weights = random.int8s(2 * 9)
            bias = (0..<2).map { _ in Int32(random.int(in: -800...800)) }
        }

        var model: DLAModel {
            let image = DLATensorSpec(name: "image", shape: [-1, 1, 6, 6], dataType: .int8, quantization: .perTensor(scale: 1.0 / 16, zeroPoint: Int32(Self.zeroPoint)))
            let q = DLAQuantization.perTensor(scale: 0.05, zeroPoint: 0)
            let tensors = [
                image,
                DLATensorSpec(name: "conv_acc", shape: [-1, 2, 6, 6], dataType: .int32),
                DLATensorSpec(name: "act", shape: [-1, 2, 6, 6], dataType: .int8, quantization: q),
                DLATensorSpec(name: "pooled", shape: [-1, 2, 3, 3], dataType: .int8, quantization: q),
            ]
            let operations = [
                DLAOperation(name: "conv1", unit: .convolution, type: "conv", inputs: [0], outputs: [1],
                             attributes: [DLAAttribute("weight", .weight(0)), DLAAttribute("padding", .ints([1, 1, 1, 1]))]),
                DLAOperation(name: "conv1_sdp", unit: .sdp, type: "sdp", inputs: [1], outputs: [2],
                             attributes: [DLAAttribute("bias", .weight(1)), DLAAttribute("activation", .string("relu")),
                                          DLAAttribute("cvt_scale", .int(1)), DLAAttribute("cvt_shift", .int(9))]),
                DLAOperation(name: "pool1", unit: .pdp, type: "pool", inputs: [2], outputs: [3],
                             attributes: [DLAAttribute("method", .string("max")), DLAAttribute("kernel", .ints([2, 2]))]),
            ]
            let weightTensors = [
                DLAWeightTensor(name: "conv1.weight", shape: [2, 1, 3, 3], values: .int8(weights)),
                DLAWeightTensor(name: "conv1.bias", shape: [2], values: .int32(bias)),
            ]
            return DLAModel(metadata: metadata("cnn", inputs: [image], outputs: [tensors[3]]),
                            graph: DLAGraph(tensors: tensors, inputs: [0], outputs: [3], operations: operations), weights: weightTensors)
        }

        /// The pooled codes of one 6×6 image: padded taps read the input zero point.
        func expected(image: [Int8]) -> [Int8] {
            func pixel(_ y: Int, _ x: Int) -> Int {
                (0..<6).contains(y) && (0..<6).contains(x) ? Int(image[y * 6 + x]) : Self.zeroPoint
            }
            var activations = [[Int]](repeating: [], count: 2)
            for k in 0..<2 {
                for y in 0..<6 {
                    for x in 0..<6 {
                        var sum = 0
                        for ky in 0..<3 {
                            for kx in 0..<3 { sum += Int(weights[k * 9 + ky * 3 + kx]) * pixel(y + ky - 1, x + kx - 1) }
                        }
                        activations[k].append(Int(convert(max(sum + Int(bias[k]), 0), scale: 1, shift: 9)))
                    }
                }
            }
            var pooled: [Int8] = []
            for k in 0..<2 {
                for y in 0..<3 {
                    for x in 0..<3 {
                        let window = [(0, 0), (0, 1), (1, 0), (1, 1)].map { activations[k][(2 * y + $0.0) * 6 + 2 * x + $0.1] }
                        pooled.append(Int8(window.max()!))
                    }
                }
            }
            return pooled
        }
    }

    // MARK: - two inputs → sdp element-wise add

    /// `out = cvt(a + align(b))`: SDP's element-wise operand `b`, aligned by its own converter
    /// (`(b − 2)·3 >> 1`, its zero point subtracted), added to `a`, then the output converter.
    enum ElementwiseAdd {
        static let bScale: Float = 0.5
        static let bZeroPoint = 2

        static var model: DLAModel {
            let a = DLATensorSpec(name: "a", shape: [-1, 4], dataType: .int8, quantization: .perTensor(scale: 1, zeroPoint: 0))
            let b = DLATensorSpec(name: "b", shape: [-1, 4], dataType: .int8, quantization: .perTensor(scale: bScale, zeroPoint: Int32(bZeroPoint)))
            let sum = DLATensorSpec(name: "sum", shape: [-1, 4], dataType: .int8, quantization: .perTensor(scale: 0.25, zeroPoint: 0))
            let operations = [
                DLAOperation(name: "add", unit: .sdp, type: "sdp", inputs: [0, 1], outputs: [2],
                             attributes: [DLAAttribute("ew_op", .string("add")), DLAAttribute("ew_scale", .int(3)), DLAAttribute("ew_shift", .int(1)),
                                          DLAAttribute("cvt_scale", .int(3)), DLAAttribute("cvt_shift", .int(2))]),
            ]
            return DLAModel(metadata: metadata("two-inputs", inputs: [a, b], outputs: [sum]),
                            graph: DLAGraph(tensors: [a, b, sum], inputs: [0, 1], outputs: [2], operations: operations), weights: [])
        }

        static func expected(a: Int8, b: Int8) -> Int8 {
            let aligned = Int(convert(Int(b) - bZeroPoint, scale: 3, shift: 1, range: Int(Int32.min)...Int(Int32.max)))
            return Int8(convert(Int(a) + aligned, scale: 3, shift: 2, range: -128...127))
        }
    }

    // MARK: - Arithmetic

    /// SDP's output converter with offset 0: `saturate(round_half_away(x·scale / 2^shift))` to INT8.
    static func convert(_ x: Int, scale: Int, shift: Int) -> Int8 {
        Int8(convert(x, scale: scale, shift: shift, range: -128...127))
    }

    static func convert(_ x: Int, scale: Int, shift: Int, range: ClosedRange<Int>) -> Int {
        let product = x * scale
        var shifted = product
        if shift > 0 {
            let half = 1 << (shift - 1)
            shifted = product >= 0 ? (product + half) >> shift : -((-product + half) >> shift)
        }
        return min(max(shifted, range.lowerBound), range.upperBound)
    }

    /// ONNX QuantizeLinear to INT8: `saturate(roundHalfEven(x / scale) + zeroPoint)`.
    static func quantize(_ x: Float, scale: Float, zeroPoint: Int) -> Int8 {
        Int8(min(max(Int((x / scale).rounded(.toNearestOrEven)) + zeroPoint, -128), 127))
    }

    /// Softmax as the CPU fallback defines it: max subtracted, `expf`, summed in order, divided.
    static func softmax(_ values: [Float]) -> [Float] {
        let peak = values.max()!
        let exponentials = values.map { expf($0 - peak) }
        var total: Float = 0
        for value in exponentials { total += value }
        return exponentials.map { $0 / total }
    }

    // MARK: - .npy

    static func writeNPY(_ array: NPYArray, _ path: String) throws {
        try NPY.write(array, path: path)
    }

    static func readFloats(_ path: String) throws -> (shape: [Int], values: [Float], dtype: NPYDType) {
        let array = try NPY.read(path: path)
        return (array.shape, array.asFloat32(), array.dtype)
    }
}
