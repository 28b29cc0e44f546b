/// The element type and full shape (batch included) of one tensor.
public struct TensorType: Sendable, Hashable, CustomStringConvertible {
    public var elementType: ElementType
    public var shape: [Int]

    public init(_ elementType: ElementType, _ shape: [Int]) {
        self.elementType = elementType
        self.shape = shape
    }

    public var count: Int { shape.reduce(1, *) }
    public var description: String { "\(elementType)\(shape)" }
}

/// Static shapes of every tensor in a graph for a given batch, checked node by node: an operator
/// whose inputs do not fit (a Gemm whose K differs, a Concat of different heights) is refused
/// here, naming the node, rather than producing garbage later. The interpreter runs the same
/// inference, so what is checked here is what runs.
public enum ShapeInference {
    /// Element counts above this are refused (a corrupt shape must not allocate terabytes).
    static let maxElements = 1 << 31

    /// Shapes of the graph inputs (symbolic dimensions become `batch`), the constants and every
    /// tensor a node produces.
    public static func infer(_ graph: Graph, batch: Int) throws(CompilerError) -> [String: [Int]] {
        try inferTypes(graph, batch: batch).mapValues(\.shape)
    }

    /// `infer` with element types: integer and 8-bit float tensors are the outputs of
    /// `QuantizeLinear` and the quantized operators; everything else is float.
    public static func inferTypes(_ graph: Graph, batch: Int) throws(CompilerError) -> [String: TensorType] {
        guard batch >= 1 else { throw .invalidOption("the batch must be at least 1, found \(batch)") }
        var types: [String: TensorType] = [:]
        for (name, constant) in graph.constants {
            guard let count = elementCount(constant.shape), count <= maxElements else {
                throw .invalidModel("constant '\(name)' has shape \(constant.shape)")
            }
            types[name] = TensorType(constant.elementType, constant.shape)
        }
        for input in graph.inputs {
            let shape = input.shape.map { dimension -> Int in
                switch dimension {
                case .fixed(let value): value
                case .symbolic: batch
                }
            }
            guard let count = elementCount(shape), count <= maxElements else {
                throw .invalidModel("graph input '\(input.name)' has shape \(input.shape): negative or too large at batch \(batch)")
            }
            types[input.name] = TensorType(input.elementType, shape)
        }
        for node in graph.nodes {
            let inputs = try node.inputs.map { name throws(CompilerError) -> TensorType? in
                if name.isEmpty { return nil }
                guard let type = types[name] else { throw .missingTensor(node: node.label, tensor: name) }
                return type
            }
            let outputs = try OperatorShapes(node: node, inputs: inputs, constants: graph.constants, opset: graph.opset).infer()
            for (index, name) in node.outputs.enumerated() where !name.isEmpty {
                if index < outputs.count {
                    guard let count = elementCount(outputs[index].shape), count <= maxElements else {
                        throw .shapeMismatch(node: node.label, detail: "output '\(name)' of shape \(outputs[index].shape) is too large")
                    }
                    types[name] = outputs[index]
                }
            }
        }
        for output in graph.outputs where types[output.name] == nil {
            throw .missingTensor(node: "the graph output list", tensor: output.name)
        }
        return types
    }

    /// The product of `shape`; nil for a negative dimension or on overflow.
    static func elementCount(_ shape: [Int]) -> Int? {
        var product = 1
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
            guard !overflow else { return nil }
            product = next
        }
        return product
    }

    /// Numpy (multidirectional) broadcasting; nil when the shapes are incompatible.
    static func broadcast(_ a: [Int], _ b: [Int]) -> [Int]? {
        let rank = max(a.count, b.count)
        let paddedA = Array(repeating: 1, count: rank - a.count) + a
        let paddedB = Array(repeating: 1, count: rank - b.count) + b
        var result: [Int] = []
        for (x, y) in zip(paddedA, paddedB) {
            if x == y || y == 1 { result.append(x) } else if x == 1 { result.append(y) } else { return nil }
        }
        return result
    }

    /// `axis` in [-rank, rank) (or [-rank, rank] with `inclusive`, as Flatten's) as a
    /// non-negative index.
    static func normalizedAxis(_ axis: Int, rank: Int, inclusive: Bool = false, node: GraphNode, attribute: String = "axis") throws(CompilerError) -> Int {
        let limit = inclusive ? rank + 1 : rank
        let normalized = axis < 0 ? axis + rank : axis
        guard normalized >= 0, normalized < limit else {
            throw .unsupportedAttribute(node: node.label, attribute: attribute, reason: "is \(axis), outside the \(rank)-D input")
        }
        return normalized
    }
}

extension ElementType {
    /// Float tensors carry real values; the others carry quantized codes or shape integers.
    var isFloatingPoint: Bool { self == .float32 || self == .float16 || self == .float64 }
    var isQuantized8Bit: Bool { self == .int8 || self == .uint8 || self == .fp8e4m3fn || self == .fp8e5m2 }
}
