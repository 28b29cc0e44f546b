@testable import DLACompiler
import Testing

/// Findings of a code review of the ONNX path (issue 14): a crafted graph gets a
/// `CompilerError`, never a trap (index out of range, force unwrap, integer overflow).
@Suite struct UntrustedGraphTests {
    static let x = GraphValue(name: "x", elementType: .float32, shape: [.symbolic("N"), .fixed(2)])

    static func graph(_ nodes: [GraphNode], constants: [String: ConstantTensor] = [:], output: String = "y") -> Graph {
        Graph(name: "crafted", opset: 13, inputs: [x], outputs: [GraphValue(name: output, elementType: .float32, shape: [])],
              nodes: nodes, constants: constants)
    }

    static let scale: [String: ConstantTensor] = ["s": ConstantTensor(floats: [0.1], shape: [])]

    /// Confirmed: `node.inputs[0]` on a Shape node without inputs.
    @Test func shapeWithoutInputIsRefused() {
        let graph = Self.graph([GraphNode(name: "shape", opType: "Shape", inputs: [], outputs: ["y"])])
        #expect(throws: CompilerError.invalidModel("Shape 'shape' has no input")) { try ConstantFolding.fold(graph) }
    }

    /// Confirmed: a QuantizeLinear writing the empty name made `codes[""]` exist, and a
    /// code-preserving node without inputs then hit `codes[node.inputs[0]]!`.
    @Test func codePreservingNodeWithoutInputsIsRefused() {
        let graph = Self.graph([
            GraphNode(name: "q", opType: "QuantizeLinear", inputs: ["x", "s"], outputs: [""]),
            GraphNode(name: "id", opType: "Identity", inputs: [], outputs: ["y"]),
        ], constants: Self.scale)
        #expect(throws: CompilerError.invalidModel("QuantizeLinear 'q' needs an input, a scale and an output")) {
            try QuantizedGraphFolding.fold(graph)
        }
    }

    /// A code-preserving node on a quantized tensor but with no outputs indexed `outputs[0]`.
    @Test func codePreservingNodeWithoutOutputsIsRefused() {
        let graph = Self.graph([
            GraphNode(name: "q", opType: "QuantizeLinear", inputs: ["x", "s"], outputs: ["xq"]),
            GraphNode(name: "id", opType: "Identity", inputs: ["xq"], outputs: []),
        ], constants: Self.scale)
        #expect(throws: CompilerError.invalidModel("Identity 'id' has no output")) { try QuantizedGraphFolding.fold(graph) }
    }

    /// A QLinearMatMul (a QOperator node) without outputs indexed `outputs[0]`.
    @Test func quantizedOperatorWithoutOutputsIsRefused() {
        var constants = Self.scale
        constants["w"] = ConstantTensor(elementType: .int8, shape: [2, 2], storage: .bytes([1, 2, 3, 4]))
        let graph = Self.graph([
            GraphNode(name: "q", opType: "QuantizeLinear", inputs: ["x", "s"], outputs: ["xq"]),
            GraphNode(name: "mm", opType: "QLinearMatMul", inputs: ["xq", "s", "", "w", "s", "", "s", ""], outputs: []),
        ], constants: constants)
        #expect(throws: CompilerError.invalidModel("QLinearMatMul 'mm' has no output")) { try QuantizedGraphFolding.fold(graph) }
    }

    /// A QLinearConv whose bias has more values than the weights have scales read
    /// `productScales` past its end.
    @Test func quantizedBiasLongerThanTheWeightScalesIsRefused() {
        let constants: [String: ConstantTensor] = [
            "s": ConstantTensor(floats: [0.1], shape: []),
            "w": ConstantTensor(elementType: .int8, shape: [2, 1, 1, 1], storage: .bytes([1, 2])),
            "ws": ConstantTensor(floats: [0.1, 0.2], shape: [2]),
            "wz": ConstantTensor(elementType: .int8, shape: [2], storage: .bytes([0, 0])),
            "b": ConstantTensor(elementType: .int32, shape: [3], storage: .integers([1, 2, 3])),
        ]
        let graph = Graph(name: "crafted", opset: 13,
                          inputs: [GraphValue(name: "x", elementType: .float32, shape: [.symbolic("N"), .fixed(1), .fixed(2), .fixed(2)])],
                          outputs: [GraphValue(name: "y", elementType: .float32, shape: [])],
                          nodes: [
                              GraphNode(name: "q", opType: "QuantizeLinear", inputs: ["x", "s"], outputs: ["xq"]),
                              GraphNode(name: "conv", opType: "QLinearConv", inputs: ["xq", "s", "", "w", "ws", "wz", "s", "", "b"], outputs: ["yq"]),
                              GraphNode(name: "dq", opType: "DequantizeLinear", inputs: ["yq", "s"], outputs: ["y"]),
                          ], constants: constants)
        #expect(throws: CompilerError.unsupportedQuantization(node: "QLinearConv 'conv'", detail: "bias 'b' has 3 values for 2 weight scales")) {
            try QuantizedGraphFolding.fold(graph)
        }
    }

    /// A per-axis QuantizeLinear of a constant with an axis outside its rank (−10 on a rank-2
    /// tensor) reached `dropFirst` with a negative count.
    @Test func perAxisQuantizationWithAnAxisOutsideTheRankIsRefused() {
        let constants: [String: ConstantTensor] = [
            "w": ConstantTensor(floats: [1, 2, 3, 4, 5, 6], shape: [2, 3]),
            "ws": ConstantTensor(floats: [0.1, 0.2], shape: [2]),
            "wz": ConstantTensor(elementType: .int8, shape: [2], storage: .bytes([0, 0])),
        ]
        let graph = Self.graph([
            GraphNode(name: "qw", opType: "QuantizeLinear", inputs: ["w", "ws", "wz"], outputs: ["wq"], attributes: ["axis": .int(-10)]),
            GraphNode(name: "mm", opType: "MatMul", inputs: ["x", "wq"], outputs: ["y"]),
        ], constants: constants)
        #expect(throws: CompilerError.unsupportedQuantization(node: "QuantizeLinear 'qw'", detail: "2 scales do not match axis -8 of shape [2, 3]")) {
            try QuantizedGraphFolding.fold(graph)
        }
    }

    /// Constant arithmetic a file controls: Cast of ±inf/NaN/1e30 to an integer and a
    /// ConstantOfShape whose dimensions multiply past Int trapped.
    @Test func constantArithmeticThatWouldOverflowIsNotFoldedOrIsRefused() throws {
        let cast = Self.graph([GraphNode(name: "cast", opType: "Cast", inputs: ["f"], outputs: ["y"], attributes: ["to": .int(7)])],
                              constants: ["f": ConstantTensor(floats: [.infinity, .nan, 1e30], shape: [3])])
        #expect(try ConstantFolding.fold(cast).constants["y"] == nil)

        let huge = Self.graph([GraphNode(name: "fill", opType: "ConstantOfShape", inputs: ["dims"], outputs: ["y"])],
                              constants: ["dims": ConstantTensor(elementType: .int64, shape: [4], storage: .integers([1 << 23, 1 << 23, 1 << 23, 1 << 23]))])
        #expect(throws: CompilerError.self) { try ConstantFolding.fold(huge) }
    }

    /// Dropout's training_mode given as a float NaN converted with `Int64(_:)`.
    @Test func dropoutWithANaNTrainingModeIsRefused() {
        let graph = Self.graph([GraphNode(name: "drop", opType: "Dropout", inputs: ["x", "", "mode"], outputs: ["y"])],
                               constants: ["mode": ConstantTensor(floats: [.nan], shape: [])])
        #expect(throws: CompilerError.self) { try ShapeInference.infer(graph, batch: 1) }
    }
}
