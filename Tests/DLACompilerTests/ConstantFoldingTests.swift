@testable import DLACompiler
import DLAEngine
import DLAFormat
import Testing

/// Shape arithmetic as PyTorch exports `x.view(x.size(0), -1)`, and weights laid out by a
/// Transpose of an initializer, are evaluated at compile time; the batch size stays free.
@Suite struct ConstantFoldingTests {
    static func flattenGraph(useBatchInArithmetic: Bool = false) -> Graph {
        let weights = (0..<(16 * 3)).map { Float($0 % 7) / 7 - 0.4 }
        var nodes = [
            GraphNode(name: "shape", opType: "Shape", inputs: ["x"], outputs: ["s"]),
            GraphNode(name: "batch", opType: "Gather", inputs: ["s", "zero"], outputs: ["n"], attributes: ["axis": .int(0)]),
            GraphNode(name: "unsqueeze", opType: "Unsqueeze", inputs: ["n", "axes"], outputs: ["n1"]),
        ]
        if useBatchInArithmetic {
            nodes.append(GraphNode(name: "twice", opType: "Mul", inputs: ["n1", "two"], outputs: ["n2"]))
            nodes.append(GraphNode(name: "cat", opType: "Concat", inputs: ["n2", "minus1"], outputs: ["target"], attributes: ["axis": .int(0)]))
        } else {
            nodes.append(GraphNode(name: "cat", opType: "Concat", inputs: ["n1", "minus1"], outputs: ["target"], attributes: ["axis": .int(0)]))
        }
        nodes += [
            GraphNode(name: "flatten", opType: "Reshape", inputs: ["x", "target"], outputs: ["flat"]),
            GraphNode(name: "wt", opType: "Transpose", inputs: ["w"], outputs: ["w_t"], attributes: ["perm": .ints([1, 0])]),
            GraphNode(name: "fc", opType: "MatMul", inputs: ["flat", "w_t"], outputs: ["y"]),
        ]
        return Graph(name: "flatten", opset: 13,
                     inputs: [GraphValue(name: "x", elementType: .float32, shape: [.symbolic("N"), .fixed(1), .fixed(4), .fixed(4)])],
                     outputs: [GraphValue(name: "y", elementType: .float32, shape: [.symbolic("N"), .fixed(3)])],
                     nodes: nodes,
                     constants: ["zero": ConstantTensor(elementType: .int64, shape: [], storage: .integers([0])),
                                 "axes": ConstantTensor(elementType: .int64, shape: [1], storage: .integers([0])),
                                 "two": ConstantTensor(elementType: .int64, shape: [1], storage: .integers([2])),
                                 "minus1": ConstantTensor(elementType: .int64, shape: [1], storage: .integers([-1])),
                                 "w": ConstantTensor(floats: weights, shape: [3, 16])])
    }

    @Test func pytorchStyleFlattenFoldsAndKeepsTheBatchFree() throws {
        let folded = try ConstantFolding.fold(Self.flattenGraph())
        #expect(folded.nodes.map(\.opType) == ["Reshape", "MatMul"])
        #expect(folded.constants["target"]?.integerValues == [0, -1])
        #expect(folded.constants["w_t"]?.shape == [16, 3])

        var options = CompileOptions()
        options.precision = .fp16
        let compilation = try Compiler.compile(Self.flattenGraph(), options: options)
        let input = FloatBatch(shape: [3, 1, 4, 4], values: (0..<48).map { Float($0 % 5) / 5 })
        let ours = try EmulatorRun.outputs(compilation, input: input)
        #expect(ours.shape == [3, 3])
        let reference = try FloatInterpreter(graph: folded).run(["x": input])["y"]!
        for (a, b) in zip(ours.values, reference.values) { #expect(abs(a - b) < 0.01) }
    }

    @Test func batchSizeUsedAsAValueIsRefused() throws {
        #expect(throws: CompilerError.self) { try ConstantFolding.fold(Self.flattenGraph(useBatchInArithmetic: true)) }
    }
}
