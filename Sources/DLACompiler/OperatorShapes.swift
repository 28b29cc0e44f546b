/// Output types of one node from its input types: the per-operator rules of shape inference.
struct OperatorShapes {
    let node: GraphNode
    /// nil for an omitted optional input.
    let inputs: [TensorType?]
    let constants: [String: ConstantTensor]
    let opset: Int

    func infer() throws(CompilerError) -> [TensorType] {
        switch (node.domain, node.opType) {
        case ("", "Conv"): return [try convolution(quantized: false)]
        case ("", "QLinearConv"): return [try convolution(quantized: true)]
        case ("", "Gemm"): return [try gemm(quantized: false)]
        case ("com.microsoft", "QGemm"): return [try gemm(quantized: true)]
        case ("", "MatMul"): return [try matMul(quantized: false)]
        case ("", "QLinearMatMul"): return [try matMul(quantized: true)]
        case ("", "Add"), ("", "Sub"), ("", "Mul"), ("", "Div"): return [try binary(try float(0), try float(1))]
        case ("com.microsoft", "QLinearAdd"):
            let a = try quantized(0), b = try quantized(3)
            return [TensorType(a.elementType, try binary(a, b).shape)]
        case ("", "PRelu"):
            let x = try float(0), slope = try float(1)
            guard ShapeInference.broadcast(x.shape, slope.shape) == x.shape else {
                throw mismatch("slope \(slope.shape) does not broadcast to the input \(x.shape)")
            }
            return [x]
        case ("", "Relu"), ("", "Clip"): return [try input(0)]
        case ("", "Sigmoid"), ("", "Tanh"), ("", "LeakyRelu"): return [try float(0)]
        case ("", "Softmax"):
            let x = try float(0)
            _ = try ShapeInference.normalizedAxis(try node.intAttribute("axis", default: -1), rank: x.shape.count, node: node)
            return [x]
        case ("", "LRN"):
            let x = try float(0)
            try rank(x, atLeast: 3, "[N, C, ...]")
            let size = try node.intAttribute("size", default: 0)
            guard size >= 1 else { throw .unsupportedAttribute(node: node.label, attribute: "size", reason: "must be positive, found \(size)") }
            return [x]
        case ("", "BatchNormalization"): return [try batchNormalization()]
        case ("", "MaxPool"), ("", "AveragePool"): return [try pool()]
        case ("", "GlobalAveragePool"), ("", "GlobalMaxPool"):
            let x = node.opType == "GlobalMaxPool" ? try input(0) : try float(0)
            try rank(x, atLeast: 3, "[N, C, spatial…]")
            return [TensorType(x.elementType, Array(x.shape[0..<2]) + Array(repeating: 1, count: x.shape.count - 2))]
        case ("com.microsoft", "QLinearGlobalAveragePool"):
            let x = try quantized(0)
            try rank(x, atLeast: 3, "[N, C, spatial…]")
            let channelsLast = try node.intAttribute("channels_last", default: 0) != 0
            let shape = channelsLast
                ? [x.shape[0]] + Array(repeating: 1, count: x.shape.count - 2) + [x.shape[x.shape.count - 1]]
                : Array(x.shape[0..<2]) + Array(repeating: 1, count: x.shape.count - 2)
            return [TensorType(x.elementType, shape)]
        case ("", "Flatten"):
            let x = try input(0)
            let axis = try ShapeInference.normalizedAxis(try node.intAttribute("axis", default: 1), rank: x.shape.count, inclusive: true, node: node)
            return [TensorType(x.elementType, [x.shape[0..<axis].reduce(1, *), x.shape[axis...].reduce(1, *)])]
        case ("", "Reshape"): return [try reshape()]
        case ("", "Transpose"):
            let x = try input(0)
            let permutation = try transposePermutation(rank: x.shape.count)
            return [TensorType(x.elementType, permutation.map { x.shape[$0] })]
        case ("", "Concat"): return [try concat()]
        case ("", "Identity"): return [try input(0)]
        case ("", "Dropout"):
            if let mode = node.optionalInput(2) {
                guard let flag = constants[mode]?.integerValues ?? constants[mode]?.floatValues.map({ Int64(exactly: $0) ?? 1 }), flag.allSatisfy({ $0 == 0 }) else {
                    throw .unsupportedAttribute(node: node.label, attribute: "training_mode", reason: "must be a constant false (inference only)")
                }
            }
            return [try input(0)]
        case ("", "Squeeze"): return [try squeeze()]
        case ("", "Unsqueeze"): return [try unsqueeze()]
        case ("", "QuantizeLinear"): return [try quantizeLinear()]
        case ("", "DequantizeLinear"): return [try dequantizeLinear()]
        default:
            throw .unsupportedOperator(node: node.name, opType: node.opType, domain: node.domain, supported: FloatInterpreter.supportedOperators)
        }
    }

    // MARK: Inputs

    func mismatch(_ detail: String) -> CompilerError { .shapeMismatch(node: node.label, detail: detail) }

    func input(_ index: Int) throws(CompilerError) -> TensorType {
        guard index < inputs.count, let type = inputs[index] else {
            throw .invalidModel("\(node.label) lacks its input \(index + 1)")
        }
        return type
    }

    /// An input of an arithmetic operator: quantized codes must be dequantized first.
    func float(_ index: Int) throws(CompilerError) -> TensorType {
        let type = try input(index)
        guard type.elementType.isFloatingPoint else {
            throw .unsupportedPattern(node: node.label, detail: "input '\(node.inputs[index])' is \(type.elementType); \(node.opType) needs a float tensor (dequantize it first)")
        }
        return type
    }

    func quantized(_ index: Int) throws(CompilerError) -> TensorType {
        let type = try input(index)
        guard type.elementType == .int8 || type.elementType == .uint8 else {
            throw .unsupportedQuantization(node: node.label, detail: "input '\(node.inputs[index])' is \(type.elementType), expected int8 or uint8")
        }
        return type
    }

    func rank(_ type: TensorType, atLeast minimum: Int, _ layout: String) throws(CompilerError) {
        guard type.shape.count >= minimum else { throw mismatch("expects a \(layout) input, found \(type.shape)") }
    }

    func rank(_ type: TensorType, exactly count: Int, _ what: String) throws(CompilerError) {
        guard type.shape.count == count else { throw mismatch("expects \(what), found \(type.shape)") }
    }

    /// A per-tensor (one element) or per-channel (`[channels]`) parameter.
    func parameter(_ index: Int, _ role: String, channels: Int?, optional: Bool = false) throws(CompilerError) -> TensorType? {
        guard index < inputs.count, let type = inputs[index] else {
            if optional { return nil }
            throw .invalidModel("\(node.label) lacks its input \(index + 1) (\(role))")
        }
        let count = type.count
        guard type.shape.count <= 1, count == 1 || (channels != nil && count == channels) else {
            let expected = channels.map { "one value or [\($0)]" } ?? "one value"
            throw mismatch("\(role) '\(node.inputs[index])' has shape \(type.shape), expected \(expected)")
        }
        return type
    }

    /// The constant integer list of input `index` (a Reshape shape, Squeeze axes).
    func constantIntegers(_ index: Int, _ role: String) throws(CompilerError) -> [Int]? {
        guard let name = node.optionalInput(index) else { return nil }
        guard let constant = constants[name], let values = constant.integerValues else {
            throw .unsupportedPattern(node: node.label, detail: "\(role) '\(name)' must be a constant integer tensor")
        }
        return try values.map { value throws(CompilerError) -> Int in
            guard let converted = Int(exactly: value), abs(converted) < 1 << 40 else { throw mismatch("\(role) holds \(value)") }
            return converted
        }
    }

    // MARK: Operators

    func convolution(quantized: Bool) throws(CompilerError) -> TensorType {
        let x = quantized ? try self.quantized(0) : try float(0)
        let weightIndex = quantized ? 3 : 1
        let w = quantized ? try self.quantized(3) : try float(1)
        try rank(x, exactly: 4, "a 2-D convolution input [N, C, H, W]")
        try rank(w, exactly: 4, "a weight [M, C/group, kH, kW]")
        let group = try node.intAttribute("group", default: 1)
        let channels = x.shape[1], filters = w.shape[0]
        guard group >= 1, channels % group == 0, filters % group == 0 else {
            throw mismatch("group \(group) does not divide the \(channels) input channels and \(filters) filters")
        }
        guard w.shape[1] * group == channels else {
            throw mismatch("weight '\(node.inputs[weightIndex])' \(w.shape) expects \(w.shape[1] * group) input channels, the input \(x.shape) has \(channels)")
        }
        let kernel = Array(w.shape[2...])
        if let declared = try node.intsAttribute("kernel_shape"), declared != kernel {
            throw mismatch("kernel_shape \(declared) differs from the weight's \(kernel)")
        }
        let geometry = try WindowGeometry.resolve(node, spatial: Array(x.shape[2...]), kernel: kernel)
        let elementType: ElementType
        if quantized {
            _ = try parameter(1, "x_scale", channels: nil)
            _ = try parameter(2, "x_zero_point", channels: nil)
            _ = try parameter(4, "w_scale", channels: filters)
            _ = try parameter(5, "w_zero_point", channels: filters)
            _ = try parameter(6, "y_scale", channels: nil)
            elementType = try parameter(7, "y_zero_point", channels: nil)?.elementType ?? .uint8
            if let bias = inputs.count > 8 ? inputs[8] : nil {
                guard bias.shape == [filters], bias.elementType == .int32 else {
                    throw mismatch("bias '\(node.inputs[8])' is \(bias), expected int32[\(filters)]")
                }
            }
        } else {
            elementType = x.elementType
            if let bias = inputs.count > 2 ? inputs[2] : nil, bias.shape != [filters] {
                throw mismatch("bias '\(node.inputs[2])' has shape \(bias.shape), expected [\(filters)]")
            }
        }
        return TensorType(elementType, [x.shape[0], filters] + geometry.outputSize)
    }

    /// Gemm and com.microsoft.QGemm: `[M, K] x [K, N]` after the optional transpositions.
    func gemm(quantized: Bool) throws(CompilerError) -> TensorType {
        let a = quantized ? try self.quantized(0) : try float(0)
        let bIndex = quantized ? 3 : 1
        let b = quantized ? try self.quantized(3) : try float(1)
        try rank(a, exactly: 2, "a 2-D A")
        try rank(b, exactly: 2, "a 2-D B")
        let transA = try node.intAttribute("transA", default: 0) != 0
        let transB = try node.intAttribute("transB", default: 0) != 0
        let (m, k) = transA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
        let (kB, n) = transB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
        guard k == kB else {
            throw mismatch("A '\(node.inputs[0])' \(a.shape)\(transA ? " (transposed)" : "") has K = \(k) but B '\(node.inputs[bIndex])' \(b.shape)\(transB ? " (transposed)" : "") has K = \(kB) (\(k) vs \(kB))")
        }
        let biasIndex = quantized ? 6 : 2
        if biasIndex < inputs.count, let bias = inputs[biasIndex] {
            guard ShapeInference.broadcast([m, n], bias.shape) == [m, n] else {
                throw mismatch("bias '\(node.inputs[biasIndex])' \(bias.shape) does not broadcast to the output [\(m), \(n)]")
            }
            if quantized, bias.elementType != .int32 {
                throw .unsupportedQuantization(node: node.label, detail: "bias '\(node.inputs[biasIndex])' is \(bias.elementType), expected int32")
            }
        }
        guard quantized else { return TensorType(a.elementType, [m, n]) }
        _ = try parameter(1, "a_scale", channels: nil)
        _ = try parameter(2, "a_zero_point", channels: nil)
        _ = try parameter(4, "b_scale", channels: n)
        _ = try parameter(5, "b_zero_point", channels: n, optional: true)
        guard try parameter(7, "y_scale", channels: nil, optional: true) != nil else { return TensorType(.float32, [m, n]) }
        let zeroPoint = try parameter(8, "y_zero_point", channels: nil, optional: true)
        return TensorType(zeroPoint?.elementType ?? a.elementType, [m, n])
    }

    /// MatMul and QLinearMatMul with a 2-D right operand (`[..., M, K] x [K, N]`).
    func matMul(quantized: Bool) throws(CompilerError) -> TensorType {
        let a = quantized ? try self.quantized(0) : try float(0)
        let bIndex = quantized ? 3 : 1
        let b = quantized ? try self.quantized(3) : try float(1)
        guard b.shape.count == 2 else {
            throw .unsupportedPattern(node: node.label, detail: "the right operand '\(node.inputs[bIndex])' is \(b.shape); only a 2-D [K, N] right operand is supported")
        }
        try rank(a, atLeast: 1, "a non-scalar left operand")
        let k = a.shape[a.shape.count - 1]
        guard k == b.shape[0] else {
            throw mismatch("left '\(node.inputs[0])' \(a.shape) has K = \(k), right '\(node.inputs[bIndex])' \(b.shape) has K = \(b.shape[0]) (\(k) vs \(b.shape[0]))")
        }
        let shape = Array(a.shape.dropLast()) + [b.shape[1]]
        guard quantized else { return TensorType(a.elementType, shape) }
        _ = try parameter(1, "a_scale", channels: nil)
        _ = try parameter(2, "a_zero_point", channels: nil)
        _ = try parameter(4, "b_scale", channels: b.shape[1])
        _ = try parameter(5, "b_zero_point", channels: b.shape[1])
        _ = try parameter(6, "y_scale", channels: nil)
        let zeroPoint = try parameter(7, "y_zero_point", channels: nil)
        return TensorType(zeroPoint?.elementType ?? .uint8, shape)
    }

    func binary(_ a: TensorType, _ b: TensorType) throws(CompilerError) -> TensorType {
        guard let shape = ShapeInference.broadcast(a.shape, b.shape) else {
            throw mismatch("operands \(a.shape) and \(b.shape) do not broadcast")
        }
        return TensorType(a.elementType, shape)
    }

    func batchNormalization() throws(CompilerError) -> TensorType {
        try node.requireAttribute("training_mode", in: [0], default: 0, reason: "only inference is supported")
        guard node.outputs.dropFirst().allSatisfy(\.isEmpty) else {
            throw .unsupportedPattern(node: node.label, detail: "running mean/variance outputs are training-only")
        }
        let x = try float(0)
        try rank(x, atLeast: 2, "[N, C, ...]")
        for (index, role) in [(1, "scale"), (2, "bias"), (3, "mean"), (4, "variance")] {
            let parameter = try float(index)
            guard parameter.shape == [x.shape[1]] else {
                throw mismatch("\(role) '\(node.inputs[index])' has shape \(parameter.shape), expected [\(x.shape[1])]")
            }
        }
        return x
    }

    func pool() throws(CompilerError) -> TensorType {
        let x = node.opType == "MaxPool" ? try input(0) : try float(0)
        try rank(x, exactly: 4, "a 2-D pooling input [N, C, H, W]")
        if node.opType == "MaxPool", node.outputs.count > 1, !node.outputs[1].isEmpty {
            throw .unsupportedPattern(node: node.label, detail: "the Indices output is not supported")
        }
        guard let kernel = try node.intsAttribute("kernel_shape"), kernel.count == 2, kernel.allSatisfy({ $0 >= 1 }) else {
            throw .unsupportedAttribute(node: node.label, attribute: "kernel_shape", reason: "must give two positive sizes")
        }
        let ceilMode = try node.intAttribute("ceil_mode", default: 0) != 0
        let geometry = try WindowGeometry.resolve(node, spatial: Array(x.shape[2...]), kernel: kernel, ceilMode: ceilMode)
        return TensorType(x.elementType, Array(x.shape[0..<2]) + geometry.outputSize)
    }

    func reshape() throws(CompilerError) -> TensorType {
        let x = try input(0)
        guard let requested = try constantIntegers(1, "shape") else { throw .invalidModel("\(node.label) lacks its shape input") }
        let allowZero = try node.intAttribute("allowzero", default: 0) != 0
        var shape: [Int] = []
        var inferred: Int?
        for (index, value) in requested.enumerated() {
            switch value {
            case 0 where !allowZero:
                guard index < x.shape.count else { throw mismatch("shape \(requested) copies dimension \(index) of the \(x.shape.count)-D input \(x.shape)") }
                shape.append(x.shape[index])
            case -1:
                guard inferred == nil else { throw mismatch("shape \(requested) has more than one -1") }
                inferred = index
                shape.append(1)
            case let size where size >= 0:
                shape.append(size)
            default:
                throw mismatch("shape \(requested) holds \(value)")
            }
        }
        guard let known = ShapeInference.elementCount(shape) else { throw mismatch("shape \(requested) is too large") }
        if let inferred {
            guard known > 0, x.count % known == 0 else { throw mismatch("cannot reshape \(x.shape) to \(requested)") }
            shape[inferred] = x.count / known
        }
        guard ShapeInference.elementCount(shape) == x.count else {
            throw mismatch("cannot reshape \(x.shape) (\(x.count) elements) to \(requested)")
        }
        return TensorType(x.elementType, shape)
    }

    func transposePermutation(rank: Int) throws(CompilerError) -> [Int] {
        let permutation = try node.intsAttribute("perm") ?? Array((0..<rank).reversed())
        guard permutation.count == rank, Set(permutation) == Set(0..<rank) else {
            throw .unsupportedAttribute(node: node.label, attribute: "perm", reason: "\(permutation) is not a permutation of the \(rank) axes")
        }
        return permutation
    }

    func concat() throws(CompilerError) -> TensorType {
        let parts = try node.inputs.indices.map { index throws(CompilerError) in try input(index) }
        guard let first = parts.first else { throw .invalidModel("\(node.label) has no inputs") }
        guard node.attributes["axis"] != nil else { throw .unsupportedAttribute(node: node.label, attribute: "axis", reason: "is required") }
        let axis = try ShapeInference.normalizedAxis(try node.intAttribute("axis", default: 0), rank: first.shape.count, node: node)
        var shape = first.shape
        shape[axis] = 0
        for (index, part) in parts.enumerated() {
            var other = part.shape
            guard other.count == first.shape.count else { throw mismatch("input '\(node.inputs[index])' \(part.shape) has another rank than \(first.shape)") }
            guard part.elementType == first.elementType else { throw mismatch("input '\(node.inputs[index])' is \(part.elementType), the first is \(first.elementType)") }
            shape[axis] += other[axis]
            other[axis] = 0
            var reference = first.shape
            reference[axis] = 0
            guard other == reference else {
                throw mismatch("input '\(node.inputs[index])' \(part.shape) differs from \(first.shape) outside axis \(axis)")
            }
        }
        return TensorType(first.elementType, shape)
    }

    /// Axes from the input (opset 13) or the attribute (earlier opsets).
    func axes() throws(CompilerError) -> [Int]? {
        if let axes = try constantIntegers(1, "axes") { return axes }
        return try node.intsAttribute("axes")
    }

    func squeeze() throws(CompilerError) -> TensorType {
        let x = try input(0)
        guard let axes = try axes() else { return TensorType(x.elementType, x.shape.filter { $0 != 1 }) }
        var remove = Set<Int>()
        for axis in axes {
            let normalized = try ShapeInference.normalizedAxis(axis, rank: x.shape.count, node: node, attribute: "axes")
            guard x.shape[normalized] == 1 else { throw mismatch("cannot squeeze axis \(axis) of size \(x.shape[normalized]) in \(x.shape)") }
            remove.insert(normalized)
        }
        return TensorType(x.elementType, x.shape.enumerated().filter { !remove.contains($0.offset) }.map(\.element))
    }

    func unsqueeze() throws(CompilerError) -> TensorType {
        let x = try input(0)
        guard let axes = try axes() else { throw .invalidModel("\(node.label) has no axes") }
        let rank = x.shape.count + axes.count
        var insert = Set<Int>()
        for axis in axes {
            insert.insert(try ShapeInference.normalizedAxis(axis, rank: rank, node: node, attribute: "axes"))
        }
        guard insert.count == axes.count else { throw mismatch("axes \(axes) repeat an axis") }
        var remaining = x.shape.makeIterator()
        return TensorType(x.elementType, (0..<rank).map { insert.contains($0) ? 1 : (remaining.next() ?? 1) })
    }

    func quantizeLinear() throws(CompilerError) -> TensorType {
        let x = try float(0)
        try node.requireAttribute("block_size", in: [0], default: 0, reason: "blocked quantization is not supported")
        let axis = try quantizationAxis(x)
        let scale = try parameter(1, "y_scale", channels: x.shape.isEmpty ? nil : x.shape[axis])
        let zeroPoint = try parameter(2, "y_zero_point", channels: x.shape.isEmpty ? nil : x.shape[axis], optional: true)
        if let scale, let zeroPoint, zeroPoint.count != scale.count {
            throw mismatch("y_zero_point \(zeroPoint.shape) and y_scale \(scale.shape) differ")
        }
        var type = zeroPoint?.elementType ?? .uint8
        if zeroPoint == nil, let code = node.attributes["output_dtype"].flatMap({ if case .int(let value) = $0 { value } else { nil } }) {
            guard let declared = ElementType(rawValue: Int(code)) else {
                throw .unsupportedQuantization(node: node.label, detail: "output_dtype \(code) is not supported")
            }
            type = declared
        }
        guard type.isQuantized8Bit else {
            throw .unsupportedQuantization(node: node.label, detail: "quantizing to \(type) is not supported (int8, uint8, float8e4m3fn, float8e5m2)")
        }
        return TensorType(type, x.shape)
    }

    func dequantizeLinear() throws(CompilerError) -> TensorType {
        let x = try input(0)
        guard x.elementType.isQuantized8Bit || x.elementType == .int32 else {
            throw .unsupportedQuantization(node: node.label, detail: "dequantizing \(x.elementType) is not supported (int8, uint8, int32, float8e4m3fn, float8e5m2)")
        }
        try node.requireAttribute("block_size", in: [0], default: 0, reason: "blocked quantization is not supported")
        let axis = try quantizationAxis(x)
        let scale = try parameter(1, "x_scale", channels: x.shape.isEmpty ? nil : x.shape[axis])
        if let zeroPoint = try parameter(2, "x_zero_point", channels: x.shape.isEmpty ? nil : x.shape[axis], optional: true) {
            guard zeroPoint.elementType == x.elementType else {
                throw .unsupportedQuantization(node: node.label, detail: "x_zero_point is \(zeroPoint.elementType) but x is \(x.elementType)")
            }
            guard zeroPoint.count == scale?.count else { throw mismatch("x_zero_point \(zeroPoint.shape) and x_scale differ in size") }
        }
        return TensorType(.float32, x.shape)
    }

    func quantizationAxis(_ x: TensorType) throws(CompilerError) -> Int {
        guard !x.shape.isEmpty else { return 0 }
        return try ShapeInference.normalizedAxis(try node.intAttribute("axis", default: 1), rank: x.shape.count, node: node)
    }
}
