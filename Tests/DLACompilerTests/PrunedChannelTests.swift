@testable import DLACompiler
import Testing

/// Float models pruned until whole output channels are (almost) zero compile to INT8 with
/// calibration: such a channel's output is its bias, as ONNX Runtime computes it, and the other
/// channels keep their precision.
@Suite struct PrunedChannelTests {
    static let features = 24, outputs = 6
    static let biases: [Float] = [0.3, -0.37, 0.2, -0.15, 0.05, 0.6]

    /// `x · W + b` (MatMul + Add, W as `[K, M]`), where output `channel` has the weights
    /// `channelWeight` (0 for a pruned channel).
    static func graph(channel: Int, channelWeight: Float) -> Graph {
        var weights = [Float](repeating: 0, count: features * outputs)
        for k in 0..<features {
            for m in 0..<outputs {
                weights[k * outputs + m] = m == channel ? channelWeight : Float((k * 37 + m * 11) % 97 - 48) / 160
            }
        }
        return Graph(name: "pruned", opset: 13,
                     inputs: [GraphValue(name: "x", elementType: .float32, shape: [.symbolic("N"), .fixed(features)])],
                     outputs: [GraphValue(name: "y", elementType: .float32, shape: [.symbolic("N"), .fixed(outputs)])],
                     nodes: [GraphNode(name: "fc", opType: "MatMul", inputs: ["x", "w"], outputs: ["xw"]),
                             GraphNode(name: "bias", opType: "Add", inputs: ["xw", "b"], outputs: ["y"])],
                     constants: ["w": ConstantTensor(floats: weights, shape: [features, outputs]),
                                 "b": ConstantTensor(floats: biases, shape: [outputs])])
    }

    static func inputs(rows: Int, seed: Int) -> FloatBatch {
        FloatBatch(shape: [rows, features], values: (0..<(rows * features)).map { Float(($0 * 37 + seed) % 101) / 100 })
    }

    /// An all-zero channel, and one whose weights are negligible beside its bias (a magnitude
    /// that a per-channel scale from max|w| alone turns into a bias beyond INT32).
    @Test(arguments: [Float(0), 1e-15])
    func prunedChannelOutputsItsBias(_ channelWeight: Float) throws {
        let channel = 1
        let graph = Self.graph(channel: channel, channelWeight: channelWeight)
        var options = CompileOptions()
        options.precision = .int8
        options.calibration = [Self.inputs(rows: 64, seed: 3)]
        let compilation = try Compiler.compile(graph, options: options)
        let spec = compilation.model.graph.tensors[compilation.model.graph.outputs[0]]
        guard case .perTensor(let step, _) = spec.quantization else { Issue.record("output is not per-tensor quantized"); return }

        let input = Self.inputs(rows: 20, seed: 11)
        let ours = try EmulatorRun.outputs(compilation, input: input)
        let reference = try FloatInterpreter(graph: graph).run(["x": input])["y"]!
        #expect(ours.shape == reference.shape)
        for row in 0..<20 {
            for m in 0..<Self.outputs {
                let index = row * Self.outputs + m
                if m == channel {
                    #expect(abs(ours.values[index] - Self.biases[channel]) <= step * 1.001, "row \(row): \(ours.values[index])")
                } else {
                    // Within one output step: the pruned channel must not take the requantization
                    // multipliers' shared shift and leave the others a few bits.
                    #expect(abs(ours.values[index] - reference.values[index]) <= step * 1.001, "row \(row) channel \(m)")
                }
            }
        }
    }
}
