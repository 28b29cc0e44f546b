@testable import DLACompiler
import Testing

/// Graphs of one node on one input, built in code.
enum SmallGraph {
    static func make(input: [Int], _ nodes: [GraphNode], constants: [String: ConstantTensor] = [:],
                     extraInputs: [(String, [Int])] = [], output: String = "y", symbolicBatch: Bool = true) -> Graph {
        let inputs = [("x", input)] + extraInputs
        return Graph(
            name: "test", opset: 17,
            inputs: inputs.map { name, shape in
                GraphValue(name: name, elementType: .float32,
                           shape: shape.enumerated().map { $0.offset == 0 && symbolicBatch ? .symbolic("N") : .fixed($0.element) })
            },
            outputs: [GraphValue(name: output, elementType: .float32, shape: [])],
            nodes: nodes, constants: constants)
    }

    static func node(_ opType: String, _ inputs: [String], _ attributes: [String: AttributeValue] = [:], domain: String = "") -> GraphNode {
        GraphNode(name: "n", opType: opType, domain: domain, inputs: inputs, outputs: ["y"], attributes: attributes)
    }

    static func zeros(_ shape: [Int]) -> ConstantTensor {
        ConstantTensor(floats: Array(repeating: 0, count: shape.reduce(1, *)), shape: shape)
    }

    static func int64(_ values: [Int64]) -> ConstantTensor {
        ConstantTensor(elementType: .int64, shape: [values.count], storage: .integers(values))
    }

    /// The inferred shape of `y` at `batch`.
    static func shape(input: [Int], _ node: GraphNode, constants: [String: ConstantTensor] = [:], batch: Int? = nil) throws -> [Int]? {
        try ShapeInference.infer(make(input: input, [node], constants: constants), batch: batch ?? input[0])["y"]
    }
}

@Suite struct ShapeInferenceTests {
    @Test func inconsistentGemmIsRefusedNamingTheNode() throws {
        let graph = try FixtureFiles.model("bad-inconsistent-shapes")
        let error = #expect(throws: CompilerError.self) { _ = try ShapeInference.infer(graph, batch: 1) }
        guard case .shapeMismatch(let node, let detail)? = error else {
            Issue.record("expected a shape mismatch, got \(String(describing: error))")
            return
        }
        #expect(node == "Gemm 'logits'")
        #expect(detail.contains("64 vs 16"))
        #expect(throws: CompilerError.self) { _ = try FloatInterpreter(graph: graph) }
    }

    @Test func unsupportedOperatorIsRefusedWithTheList() throws {
        let graph = try FixtureFiles.model("bad-unsupported-op")
        let error = #expect(throws: CompilerError.self) { _ = try FloatInterpreter(graph: graph) }
        #expect(error == .unsupportedOperator(node: "y", opType: "Einsum", domain: "", supported: FloatInterpreter.supportedOperators))
        #expect(error?.description.contains("QLinearConv") == true)
    }

    /// Every fixture model's graph outputs get the manifest's shapes, the batch substituted.
    @Test func fixtureOutputsHaveTheManifestShapes() throws {
        for fixture in try FixtureFiles.manifest().fixtures where ["float", "micro", "int8-qdq", "int8-qoperator", "fp8-e4m3fn", "fp8-e5m2", "external-data"].contains(fixture.kind) {
            let name = try #require(fixture.modelName)
            let shapes = try ShapeInference.infer(try FixtureFiles.model(name), batch: 3)
            for port in (fixture.inputs ?? []) + (fixture.outputs ?? []) {
                let expected = port.shape.map { dimension -> Int in
                    if case .fixed(let value) = dimension { return value }
                    return 3
                }
                #expect(shapes[port.name] == expected, "\(name).\(port.name)")
            }
        }
    }

    @Test func convolutionPadding() throws {
        let weight = ["w": SmallGraph.zeros([4, 1, 3, 3])]
        func conv(_ attributes: [String: AttributeValue]) throws -> [Int]? {
            try SmallGraph.shape(input: [2, 2, 7, 7], SmallGraph.node("Conv", ["x", "w"], attributes.merging(["group": .int(2)]) { a, _ in a }), constants: weight)
        }
        #expect(try conv(["strides": .ints([2, 2])]) == [2, 4, 3, 3])
        #expect(try conv(["strides": .ints([2, 2]), "auto_pad": .string("SAME_UPPER")]) == [2, 4, 4, 4])
        #expect(try conv(["strides": .ints([2, 2]), "auto_pad": .string("SAME_LOWER")]) == [2, 4, 4, 4])
        #expect(try conv(["auto_pad": .string("VALID"), "pads": .ints([5, 5, 5, 5])]) == [2, 4, 5, 5])
        #expect(try conv(["dilations": .ints([2, 2]), "pads": .ints([1, 0, 1, 4])]) == [2, 4, 5, 7])
        let node = SmallGraph.node("Conv", ["x", "w"], ["strides": .ints([2, 2]), "auto_pad": .string("SAME_LOWER")])
        let geometry = try WindowGeometry.resolve(node, spatial: [8, 8], kernel: [4, 4])
        #expect(geometry.padBegin == [1, 1] && geometry.padEnd == [1, 1] && geometry.outputSize == [4, 4])
        let odd = try WindowGeometry.resolve(node, spatial: [8, 8], kernel: [3, 3])
        #expect(odd.padBegin == [1, 1] && odd.padEnd == [0, 0])
        let upper = SmallGraph.node("Conv", ["x", "w"], ["strides": .ints([2, 2]), "auto_pad": .string("SAME_UPPER")])
        #expect(try WindowGeometry.resolve(upper, spatial: [8, 8], kernel: [3, 3]).padEnd == [1, 1])
    }

    @Test func convolutionChannelMismatchIsRefused() throws {
        let node = SmallGraph.node("Conv", ["x", "w"])
        let error = #expect(throws: CompilerError.self) {
            _ = try SmallGraph.shape(input: [1, 3, 8, 8], node, constants: ["w": SmallGraph.zeros([4, 2, 3, 3])])
        }
        guard case .shapeMismatch(let at, _)? = error else {
            Issue.record("expected a shape mismatch, got \(String(describing: error))")
            return
        }
        #expect(at == "Conv 'n'")
    }

    @Test func poolingCeilMode() throws {
        func pool(_ input: Int, _ attributes: [String: AttributeValue]) throws -> [Int]? {
            try SmallGraph.shape(input: [1, 1, input, input], SmallGraph.node("MaxPool", ["x"], attributes))
        }
        #expect(try pool(6, ["kernel_shape": .ints([3, 3]), "strides": .ints([2, 2])]) == [1, 1, 2, 2])
        #expect(try pool(6, ["kernel_shape": .ints([3, 3]), "strides": .ints([2, 2]), "ceil_mode": .int(1)]) == [1, 1, 3, 3])
        // ceil((5 + 2 - 2) / 2) + 1 = 4 windows, but the last would start in the end padding.
        #expect(try pool(5, ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2]), "pads": .ints([1, 1, 1, 1]), "ceil_mode": .int(1)]) == [1, 1, 3, 3])
        #expect(try SmallGraph.shape(input: [2, 3, 5, 4], SmallGraph.node("GlobalAveragePool", ["x"])) == [2, 3, 1, 1])
    }

    @Test func matrixProducts() throws {
        let w = ["w": SmallGraph.zeros([16, 8])]
        #expect(try SmallGraph.shape(input: [5, 16], SmallGraph.node("Gemm", ["x", "w"]), constants: w) == [5, 8])
        #expect(try SmallGraph.shape(input: [16, 5], SmallGraph.node("Gemm", ["x", "w"], ["transA": .int(1)]), constants: w, batch: 16) == [5, 8])
        #expect(try SmallGraph.shape(input: [4, 3, 16], SmallGraph.node("MatMul", ["x", "w"]), constants: w) == [4, 3, 8])
        #expect(throws: CompilerError.self) {
            _ = try SmallGraph.shape(input: [5, 16], SmallGraph.node("Gemm", ["x", "w"], ["transB": .int(1)]), constants: w)
        }
        #expect(throws: CompilerError.self) {
            _ = try SmallGraph.shape(input: [5, 16], SmallGraph.node("Gemm", ["x", "w", "c"]), constants: w.merging(["c": SmallGraph.zeros([3])]) { a, _ in a })
        }
    }

    @Test func broadcastingAndLayout() throws {
        #expect(try SmallGraph.shape(input: [2, 3, 4, 5], SmallGraph.node("Add", ["x", "c"]), constants: ["c": SmallGraph.zeros([3, 1, 1])]) == [2, 3, 4, 5])
        #expect(throws: CompilerError.self) {
            _ = try SmallGraph.shape(input: [2, 3, 4, 5], SmallGraph.node("Mul", ["x", "c"]), constants: ["c": SmallGraph.zeros([3, 1])])
        }
        let shape = ["s": SmallGraph.int64([0, -1, 5])]
        #expect(try SmallGraph.shape(input: [2, 3, 4, 5], SmallGraph.node("Reshape", ["x", "s"]), constants: shape) == [2, 12, 5])
        #expect(try SmallGraph.shape(input: [2, 3, 4, 5], SmallGraph.node("Flatten", ["x"], ["axis": .int(0)])) == [1, 120])
        #expect(try SmallGraph.shape(input: [2, 3, 4, 5], SmallGraph.node("Flatten", ["x"], ["axis": .int(-2)])) == [6, 20])
        #expect(try SmallGraph.shape(input: [2, 3, 4, 5], SmallGraph.node("Transpose", ["x"])) == [5, 4, 3, 2], "default: reversed axes")
        let axes = ["a": SmallGraph.int64([1, -1])]
        #expect(try SmallGraph.shape(input: [2, 1, 4, 1], SmallGraph.node("Squeeze", ["x", "a"]), constants: axes) == [2, 4])
        #expect(try SmallGraph.shape(input: [2, 4], SmallGraph.node("Unsqueeze", ["x", "a"]), constants: axes) == [2, 1, 4, 1])
        #expect(throws: CompilerError.self) {
            _ = try SmallGraph.shape(input: [2, 3, 4, 5], SmallGraph.node("Reshape", ["x", "s"]), constants: ["s": SmallGraph.int64([7, -1])])
        }
    }

    /// Shapes from a hostile model overflow nothing: they are refused.
    @Test func hugeShapesAreRefused() throws {
        #expect(throws: CompilerError.self) {
            _ = try SmallGraph.shape(input: [2, 3], SmallGraph.node("Reshape", ["x", "s"]), constants: ["s": SmallGraph.int64([1 << 39, 1 << 39, 0])])
        }
        #expect(throws: CompilerError.self) { _ = try SmallGraph.shape(input: [2, 1 << 40, 1 << 40], SmallGraph.node("Relu", ["x"])) }
        #expect(throws: CompilerError.self) {
            _ = try SmallGraph.shape(input: [1, 1, 8, 8], SmallGraph.node("MaxPool", ["x"], ["kernel_shape": .ints([2, 2]), "dilations": .ints([1 << 39, 1])]))
        }
    }

    @Test func concatChecksTheOtherAxes() throws {
        let graph = SmallGraph.make(input: [2, 3, 4], [SmallGraph.node("Concat", ["x", "z"], ["axis": .int(1)])], extraInputs: [("z", [2, 5, 4])])
        #expect(try ShapeInference.infer(graph, batch: 2)["y"] == [2, 8, 4])
        let bad = SmallGraph.make(input: [2, 3, 4], [SmallGraph.node("Concat", ["x", "z"], ["axis": .int(1)])], extraInputs: [("z", [2, 5, 3])])
        #expect(throws: CompilerError.self) { _ = try ShapeInference.infer(bad, batch: 2) }
    }

    @Test func quantizedTensorsAreTyped() throws {
        let graph = try FixtureFiles.model("lenet5-uint8-qoperator")
        let types = try ShapeInference.inferTypes(graph, batch: 2)
        for node in graph.nodes where node.opType == "QLinearConv" || node.opType == "MaxPool" || node.opType == "QGemm" {
            #expect(types[node.outputs[0]]?.elementType == .uint8, "\(node.label)")
        }
        #expect(types["logits"] == TensorType(.float32, [2, 10]))
    }

    @Test func arithmeticOnQuantizedCodesIsRefused() throws {
        let graph = Graph(
            name: "test", opset: 17,
            inputs: [GraphValue(name: "x", elementType: .float32, shape: [.symbolic("N"), .fixed(4)])],
            outputs: [GraphValue(name: "y", elementType: .int8, shape: [])],
            nodes: [GraphNode(name: "q", opType: "QuantizeLinear", inputs: ["x", "s", "z"], outputs: ["q"]),
                    GraphNode(name: "add", opType: "Add", inputs: ["q", "q"], outputs: ["y"])],
            constants: ["s": ConstantTensor(floats: [0.1], shape: []),
                        "z": ConstantTensor(elementType: .int8, shape: [], storage: .bytes([0]))])
        let error = #expect(throws: CompilerError.self) { _ = try ShapeInference.infer(graph, batch: 1) }
        guard case .unsupportedPattern(let node, _)? = error else {
            Issue.record("expected an unsupported pattern, got \(String(describing: error))")
            return
        }
        #expect(node == "Add 'add'")
    }
}
