/// Evaluates at compile time the shape arithmetic exporters emit — PyTorch's
/// `x.view(x.size(0), -1)` becomes Shape → Gather → Unsqueeze → Concat → Reshape — and layout ops
/// on constants (a Transpose of an initializer), so the accelerator sees only real work.
///
/// Static dimensions come from shape inference; the batch dimension is carried as a marker. A
/// Reshape's shape that holds the marker reads 0 there ("copy the input's dimension"); any other
/// use of the batch size (arithmetic, a consumer that is not a Reshape) is refused, since the
/// compiled model runs any batch.
enum ConstantFolding {
    static let batchMarker = Int64.min

    static let foldable: Set<String> = [
        "Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Cast", "Slice", "Identity", "ConstantOfShape",
        "Add", "Sub", "Mul", "Div", "Transpose", "Reshape", "Flatten",
    ]

    static func fold(_ graph: Graph) throws(CompilerError) -> Graph {
        var result = graph
        var kept: [GraphNode] = []
        var batchDependent = Set<String>()
        for node in graph.nodes {
            guard node.domain.isEmpty, foldable.contains(node.opType), node.outputs.count == 1 else {
                kept.append(node)
                continue
            }
            let inputsKnown = node.inputs.enumerated().allSatisfy { index, name in
                name.isEmpty || result.constants[name] != nil || (node.opType == "Shape" && index == 0)
            }
            guard inputsKnown else {
                kept.append(node)
                continue
            }
            let value: ConstantTensor?
            if node.opType == "Shape" {
                guard let input = node.inputs.first, !input.isEmpty else { throw .invalidModel("\(node.label) has no input") }
                value = try shape(of: input, node: node, graph: result, before: kept)
            } else {
                value = try evaluate(node, result.constants, opset: graph.opset)
            }
            guard let value else {
                kept.append(node)
                continue
            }
            if case .integers(let values) = value.storage, values.contains(batchMarker) {
                batchDependent.insert(node.outputs[0])
            }
            result.constants[node.outputs[0]] = value
        }
        // The batch marker may only reach a Reshape's shape, where it becomes 0.
        for name in batchDependent {
            for node in kept where node.inputs.contains(name) {
                guard node.opType == "Reshape", node.inputs.count > 1, node.inputs[1] == name, !node.inputs.dropFirst(2).contains(name) else {
                    throw .unsupportedPattern(node: node.label, detail: "uses the batch size (from a Shape) as a value; only a Reshape's shape may depend on it")
                }
                var allowZero = 0
                if case .int(let value)? = node.attributes["allowzero"] { allowZero = Int(value) }
                guard allowZero == 0 else {
                    throw .unsupportedAttribute(node: node.label, attribute: "allowzero", reason: "= 1 with a batch-dependent shape is not supported")
                }
            }
            if case .integers(let values)? = result.constants[name]?.storage {
                result.constants[name]?.storage = .integers(values.map { $0 == batchMarker ? 0 : $0 })
            }
        }
        result.nodes = kept
        return result
    }

    /// Shape of an activation: declared (graph input) or inferred from the nodes before it.
    static func shape(of name: String, node: GraphNode, graph: Graph, before nodes: [GraphNode]) throws(CompilerError) -> ConstantTensor? {
        var dims: [Int64]
        if let constant = graph.constants[name] {
            dims = constant.shape.map(Int64.init)
        } else {
            var prefix = graph
            prefix.nodes = nodes
            prefix.outputs = [GraphValue(name: name, elementType: .float32, shape: [])]
            guard let inferred = try ShapeInference.infer(prefix, batch: 1)[name] else { return nil }
            dims = inferred.map(Int64.init)
            if !dims.isEmpty { dims[0] = batchMarker }
        }
        let start = try node.intAttribute("start", default: 0), end = try node.intAttribute("end", default: Int.max)
        let rank = dims.count
        let lower = max(0, min(rank, start < 0 ? start + rank : start))
        let upper = max(lower, min(rank, end < 0 ? end + rank : end))
        dims = Array(dims[lower..<upper])
        return ConstantTensor(elementType: .int64, shape: [dims.count], storage: .integers(dims))
    }

    /// One node on constant inputs, or nil when it is not foldable after all (floats where only
    /// integers make sense, the batch marker in arithmetic).
    static func evaluate(_ node: GraphNode, _ constants: [String: ConstantTensor], opset: Int) throws(CompilerError) -> ConstantTensor? {
        func input(_ index: Int) -> ConstantTensor? {
            index < node.inputs.count && !node.inputs[index].isEmpty ? constants[node.inputs[index]] : nil
        }
        guard let first = input(0) else { return nil }
        switch node.opType {
        case "Identity":
            return first
        case "Cast":
            let to = try node.intAttribute("to", default: 1)
            switch ElementType(rawValue: to) {
            case .int64?, .int32?:
                // Floats cast only when every value is an integer Int64 holds (not NaN, ±inf or 1e30).
                let exact = first.floatValues.map { Int64(exactly: $0) }
                guard let integers = first.integerValues ?? (exact.allSatisfy { $0 != nil } ? exact.compactMap { $0 } : nil) else { return nil }
                return ConstantTensor(elementType: .int64, shape: first.shape, storage: .integers(integers))
            case .float32?:
                return ConstantTensor(floats: first.floatValues, shape: first.shape)
            default:
                return nil
            }
        case "Unsqueeze", "Squeeze":
            return try reshaped(first, node, constants, opset: opset)
        case "Gather":
            guard let data = first.integerValues, first.shape.count <= 1, let indices = input(1)?.integerValues,
                  try node.intAttribute("axis", default: 0) == 0 else { return nil }
            var picked: [Int64] = []
            for index in indices {
                let position = Int(index < 0 ? index + Int64(data.count) : index)
                guard position >= 0, position < data.count else {
                    throw .invalidModel("\(node.label) gathers index \(index) of \(data.count) values")
                }
                picked.append(data[position])
            }
            return ConstantTensor(elementType: .int64, shape: input(1)!.shape, storage: .integers(picked))
        case "Concat":
            let parts = node.inputs.compactMap { constants[$0] }
            guard parts.count == node.inputs.count, parts.allSatisfy({ $0.shape.count == 1 }) else { return nil }
            if let integers = parts.map(\.integerValues).reduce([Int64]?([]), { total, part in total.flatMap { t in part.map { t + $0 } } }) {
                return ConstantTensor(elementType: .int64, shape: [integers.count], storage: .integers(integers))
            }
            let floats = parts.flatMap(\.floatValues)
            return ConstantTensor(floats: floats, shape: [floats.count])
        case "Slice":
            guard first.shape.count == 1, let starts = input(1)?.integerValues, let ends = input(2)?.integerValues,
                  starts.count == 1, ends.count == 1 else { return nil }
            let step = input(4)?.integerValues?.first ?? 1
            guard step == 1 else { return nil }
            let count = Int64(first.count)
            let lower = max(0, min(count, starts[0] < 0 ? starts[0] + count : starts[0]))
            let upper = max(lower, min(count, ends[0] < 0 ? ends[0] + count : ends[0]))
            let range = Int(lower)..<Int(upper)
            if let integers = first.integerValues {
                return ConstantTensor(elementType: .int64, shape: [range.count], storage: .integers(Array(integers[range])))
            }
            return ConstantTensor(floats: Array(first.floatValues[range]), shape: [range.count])
        case "Add", "Sub", "Mul", "Div":
            guard let a = first.integerValues, let b = input(1)?.integerValues, first.count == input(1)!.count || input(1)!.count == 1,
                  !a.contains(batchMarker), !b.contains(batchMarker) else { return nil }
            let values: [Int64] = a.indices.map { i in
                let y = b[b.count == 1 ? 0 : i]
                switch node.opType {
                case "Add": return a[i] &+ y
                case "Sub": return a[i] &- y
                case "Mul": return a[i] &* y
                default: return y == 0 ? 0 : a[i] / y
                }
            }
            return ConstantTensor(elementType: .int64, shape: first.shape, storage: .integers(values))
        case "ConstantOfShape":
            guard let dims = first.integerValues, dims.allSatisfy({ $0 >= 0 && $0 < 1 << 24 }) else { return nil }
            var count = 1
            for dim in dims {
                let (product, overflow) = count.multipliedReportingOverflow(by: Int(dim))
                guard !overflow, product <= ShapeInference.maxElements else {
                    throw .invalidModel("\(node.label) makes a tensor of shape \(dims), more than \(ShapeInference.maxElements) elements")
                }
                count = product
            }
            var fill = ConstantTensor(floats: [0], shape: [1])
            if case .tensor(let value)? = node.attributes["value"] { fill = value }
            if let integers = fill.integerValues {
                return ConstantTensor(elementType: .int64, shape: dims.map(Int.init), storage: .integers([Int64](repeating: integers.first ?? 0, count: count)))
            }
            return ConstantTensor(floats: [Float](repeating: fill.floatValues.first ?? 0, count: count), shape: dims.map(Int.init))
        case "Transpose":
            guard first.elementType == .float32 || first.elementType == .float64 else { return nil }
            let rank = first.shape.count
            let perm = try node.intsAttribute("perm") ?? Array((0..<rank).reversed())
            guard perm.sorted() == Array(0..<rank) else { throw .invalidModel("\(node.label) has perm \(perm) for rank \(rank)") }
            let transposed = InterpreterLayout.transpose(FloatBatch(shape: first.shape, values: first.floatValues), permutation: perm)
            return ConstantTensor(floats: transposed.values, shape: transposed.shape)
        case "Reshape", "Flatten":
            // Only constants (weights laid out by the exporter); activations stay reshapes.
            guard first.elementType == .float32 || first.elementType == .float64,
                  !(input(1)?.integerValues?.contains(batchMarker) ?? false) else { return nil }
            return try reshaped(first, node, constants, opset: opset)
        default:
            return nil
        }
    }

    /// The same values under the shape that shape inference gives the node (Reshape, Flatten,
    /// Squeeze, Unsqueeze only move the shape).
    static func reshaped(_ tensor: ConstantTensor, _ node: GraphNode, _ constants: [String: ConstantTensor],
                         opset: Int) throws(CompilerError) -> ConstantTensor {
        let inputs = node.inputs.map { name in constants[name].map { TensorType($0.elementType, $0.shape) } }
        var copy = tensor
        copy.shape = try OperatorShapes(node: node, inputs: inputs, constants: constants, opset: opset).infer()[0].shape
        return copy
    }
}
