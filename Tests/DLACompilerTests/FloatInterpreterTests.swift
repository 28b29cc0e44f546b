import DLACompiler
import Testing

/// The interpreter against the fixtures' reference outputs (onnx.reference, or ONNX Runtime
/// for the quantized models and LRN). MNIST models run on a subset of the 300 committed
/// images: the suite runs in debug builds.
@Suite struct FloatInterpreterTests {
    /// Float models: every output element within 1e-5 absolute + 1e-4 relative of the reference.
    static let absoluteTolerance: Float = 1e-5
    static let relativeTolerance: Float = 1e-4

    static let floatModels = [
        "mlp-float", "mlp-float-softmax", "lenet5-float", "residual-cnn-float",
        "micro-conv-bn-activations", "micro-lookup-activations", "micro-pools", "micro-residual-two-inputs",
        "micro-layout", "micro-lrn-identity-dropout", "micro-gemm-variants", "opset22-unchanged", "external-data",
    ]

    @Test(arguments: floatModels)
    func floatModelReproducesReference(_ name: String) throws {
        let (inputs, references) = try FixtureFiles.inputsAndReferences(name, rows: 40)
        let interpreter = try FloatInterpreter(graph: try FixtureFiles.model(name))
        let outputs = try interpreter.run(inputs)
        #expect(Set(outputs.keys) == Set(references.keys))
        for (output, reference) in references {
            let value = try #require(outputs[output])
            #expect(value.shape == reference.shape, "\(name).\(output)")
            var worst: (index: Int, error: Float) = (-1, 0)
            for (index, (found, expected)) in zip(value.values, reference.values).enumerated() {
                let excess = abs(found - expected) - (Self.absoluteTolerance + Self.relativeTolerance * abs(expected))
                if excess > worst.error || found.isNaN != expected.isNaN { worst = (index, max(excess, worst.error)) }
            }
            #expect(worst.index < 0, "\(name).\(output): element \(worst.index) is \(worst.index >= 0 ? value.values[worst.index] : 0), reference \(worst.index >= 0 ? reference.values[worst.index] : 0)")
        }
    }

    /// Quantized models (ONNX Runtime's INT8 QDQ/QOperator, the reference's FP8 QDQ): top-1 of the
    /// interpreter's logits agrees with the reference's on at least 99 % of the images (the
    /// reference sums FP8 products in BLAS order; ONNX Runtime fuses QDQ into integer kernels).
    @Test(arguments: [
        ("mlp-fp8-e4m3fn", 300), ("mlp-fp8-e5m2", 300),
        ("mlp-int8-qdq", 200), ("mlp-int8-qoperator", 200), ("mlp-matmul-int8-qoperator", 200),
        ("lenet5-int8-qdq", 100), ("lenet5-int8-qoperator", 100), ("lenet5-uint8-qdq", 100), ("lenet5-uint8-qoperator", 100),
        ("residual-cnn-int8-qdq", 100), ("residual-cnn-int8-qoperator", 100),
    ])
    func quantizedModelAgreesOnTop1(_ name: String, _ rows: Int) throws {
        let (inputs, references) = try FixtureFiles.inputsAndReferences(name, rows: rows)
        let outputs = try FloatInterpreter(graph: try FixtureFiles.model(name)).run(inputs)
        let (output, reference) = try #require(references.first)
        let found = FixtureFiles.top1(try #require(outputs[output]))
        let expected = FixtureFiles.top1(reference)
        let agreeing = zip(found, expected).filter { $0 == $1 }.count
        #expect(found.count == rows)
        #expect(Double(agreeing) >= 0.99 * Double(rows), "\(name): top-1 agrees on \(agreeing) of \(rows)")
        // INT8 logits: the integer kernels reproduce ONNX Runtime's codes (measured: all of
        // them on the 300 images); allow one quantization step on 1 % of the elements.
        if let step = try FixtureFiles.entry(name).outputQuantization.map({ Float($0.scale) }) {
            let logits = try #require(outputs[output]).values
            let differences = zip(logits, reference.values).map { abs($0 - $1) / step }
            let exact = differences.filter { $0 < 1e-3 }.count
            #expect(differences.allSatisfy { $0 < 1.001 }, "\(name): an output is more than one quantization step off")
            #expect(Double(exact) >= 0.99 * Double(logits.count), "\(name): \(exact) of \(logits.count) outputs equal ONNX Runtime's")
        }
    }

    @Test func observeSeesEveryProducedTensor() throws {
        let graph = try FixtureFiles.model("lenet5-float")
        let (inputs, _) = try FixtureFiles.inputsAndReferences("lenet5-float", rows: 2)
        var seen: [String: [Int]] = [:]
        _ = try FloatInterpreter(graph: graph).run(inputs) { name, value in seen[name] = value.shape }
        let produced = graph.nodes.flatMap(\.outputs).filter { !$0.isEmpty }
        #expect(Set(seen.keys) == Set(produced))
        let shapes = try ShapeInference.infer(graph, batch: 2)
        for (name, shape) in seen { #expect(shapes[name] == shape, "\(name)") }
    }

    @Test func wrongInputShapeIsRefused() throws {
        let interpreter = try FloatInterpreter(graph: try FixtureFiles.model("mlp-float"))
        let error = #expect(throws: CompilerError.self) {
            _ = try interpreter.run(["input": FloatBatch(shape: [2, 783], values: Array(repeating: 0, count: 2 * 783))])
        }
        guard case .shapeMismatch(let node, _)? = error else {
            Issue.record("expected a shape mismatch, got \(String(describing: error))")
            return
        }
        #expect(node == "graph input 'input'")
    }
}
