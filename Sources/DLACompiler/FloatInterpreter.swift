/// A batch of one tensor: row-major values with dimension 0 the batch.
public struct FloatBatch: Sendable, Hashable {
    public var shape: [Int]
    public var values: [Float]

    public init(shape: [Int], values: [Float]) {
        self.shape = shape
        self.values = values
    }
}

/// Runs an imported graph in Float with ONNX's reference semantics: the compiler's calibration
/// (activation ranges through `observe`) and the yardstick the emulator's results are held to.
///
/// Quantized tensors (outputs of `QuantizeLinear` and of the QLinear/QGemm operators) are
/// carried as Float values of their elements: the integer code itself for int8, uint8 and
/// int32, the exact decoded value for the FP8 formats (every FP8 value is a Float). Operators
/// that only move or select elements (MaxPool, Reshape, Flatten, Transpose, Concat, …) therefore
/// work on them unchanged, as ONNX Runtime runs them on int8 tensors.
///
/// Float arithmetic accumulates in Float in a fixed order; quantized operators accumulate
/// exactly in Int32 and requantize with round half to even and saturation, as ONNX Runtime's
/// kernels do.
public struct FloatInterpreter: Sendable {
    public let graph: Graph

    /// The operators the interpreter (and so the compiler's import) accepts; contrib operators
    /// are prefixed with their domain.
    public static let supportedOperators: [String] = [
        "Add", "AveragePool", "BatchNormalization", "Clip", "Concat", "Conv", "DequantizeLinear", "Div", "Dropout",
        "Flatten", "Gemm", "GlobalAveragePool", "GlobalMaxPool", "Identity", "LRN", "LeakyRelu", "MatMul", "MaxPool",
        "Mul", "PRelu", "QLinearConv", "QLinearMatMul", "QuantizeLinear", "Relu", "Reshape", "Sigmoid", "Softmax",
        "Squeeze", "Sub", "Tanh", "Transpose", "Unsqueeze",
        "com.microsoft.QGemm", "com.microsoft.QLinearAdd", "com.microsoft.QLinearGlobalAveragePool",
    ]

    let constants: [String: FloatBatch]

    /// Checks every node (operator supported, shapes consistent at batch 1).
    public init(graph: Graph) throws(CompilerError) {
        _ = try ShapeInference.inferTypes(graph, batch: 1)
        var constants: [String: FloatBatch] = [:]
        for (name, constant) in graph.constants {
            let values = constant.floatValues
            guard values.count == constant.count else {
                throw .invalidModel("constant '\(name)' of shape \(constant.shape) holds \(values.count) values")
            }
            constants[name] = FloatBatch(shape: constant.shape, values: values)
        }
        self.graph = graph
        self.constants = constants
    }

    /// Runs the graph on `inputs` (every graph input by name, all with the same batch) and
    /// returns the graph outputs by name. `observe` sees every tensor a node produces, in
    /// execution order.
    ///
    /// A graph whose inputs all declare a fixed batch of 1 (as many exported models do) runs a
    /// larger batch one sample at a time, its outputs stacked along dimension 0; `observe` then
    /// sees each sample's tensors separately.
    public func run(_ inputs: [String: FloatBatch], observe: ((String, FloatBatch) -> Void)? = nil) throws(CompilerError) -> [String: FloatBatch] {
        if let rows = sampleBySampleRows(inputs) {
            var stacked: [String: FloatBatch] = [:]
            for row in 0..<rows {
                let sample = inputs.mapValues { batch in
                    let size = batch.values.count / rows
                    return FloatBatch(shape: [1] + batch.shape.dropFirst(), values: Array(batch.values[(row * size)..<((row + 1) * size)]))
                }
                for (name, output) in try runBatch(sample, observe: observe) {
                    var joined = stacked[name] ?? FloatBatch(shape: [0] + output.shape.dropFirst(), values: [])
                    joined.shape[0] += output.shape.first ?? 1
                    joined.values += output.values
                    stacked[name] = joined
                }
            }
            return stacked
        }
        return try runBatch(inputs, observe: observe)
    }

    /// The number of samples when the graph's inputs all declare batch 1 and `inputs` hold the
    /// same larger batch; nil otherwise.
    func sampleBySampleRows(_ inputs: [String: FloatBatch]) -> Int? {
        guard !graph.inputs.isEmpty, graph.inputs.allSatisfy({ $0.shape.first == .fixed(1) }) else { return nil }
        let rows = Set(graph.inputs.map { inputs[$0.name]?.shape.first ?? 0 })
        guard rows.count == 1, let count = rows.first, count > 1 else { return nil }
        return count
    }

    func runBatch(_ inputs: [String: FloatBatch], observe: ((String, FloatBatch) -> Void)?) throws(CompilerError) -> [String: FloatBatch] {
        let batch = try self.batch(of: inputs)
        let types = try ShapeInference.inferTypes(graph, batch: batch)
        var tensors = constants
        for input in graph.inputs {
            guard let value = inputs[input.name] else { throw .invalidOption("graph input '\(input.name)' was not given") }
            let expected = types[input.name]?.shape ?? []
            guard value.shape == expected, value.values.count == expected.reduce(1, *) else {
                throw .shapeMismatch(node: "graph input '\(input.name)'", detail: "expected \(expected) for batch \(batch), found \(value.shape) with \(value.values.count) values")
            }
            tensors[input.name] = value
        }
        for node in graph.nodes {
            let outputs = try NodeExecution(node: node, tensors: tensors, types: types, constants: graph.constants).run()
            for (name, value) in zip(node.outputs, outputs) where !name.isEmpty {
                tensors[name] = value
                observe?(name, value)
            }
        }
        var result: [String: FloatBatch] = [:]
        for output in graph.outputs {
            guard let value = tensors[output.name] else { throw .missingTensor(node: "the graph output list", tensor: output.name) }
            result[output.name] = value
        }
        return result
    }

    /// The batch is dimension 0 of the first input whose dimension 0 is symbolic (1 when every
    /// input is fixed).
    func batch(of inputs: [String: FloatBatch]) throws(CompilerError) -> Int {
        for input in graph.inputs {
            guard case .symbolic? = input.shape.first else { continue }
            guard let value = inputs[input.name] else { throw .invalidOption("graph input '\(input.name)' was not given") }
            guard let batch = value.shape.first, batch >= 1 else {
                throw .shapeMismatch(node: "graph input '\(input.name)'", detail: "expected a batch dimension, found shape \(value.shape)")
            }
            return batch
        }
        return 1
    }
}
