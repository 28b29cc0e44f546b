/// One node's run in the interpreter: reads its inputs, calls the operator's kernel and returns
/// one value per output. Shapes come from shape inference, which already validated the node.
struct NodeExecution {
    let node: GraphNode
    let tensors: [String: FloatBatch]
    let types: [String: TensorType]
    let constants: [String: ConstantTensor]

    func run() throws(CompilerError) -> [FloatBatch] {
        switch (node.domain, node.opType) {
        case ("", "Conv"): return [try convolution()]
        case ("", "Gemm"): return [try gemm()]
        case ("", "MatMul"): return [try matMul()]
        case ("", "Add"): return [try binary(+)]
        case ("", "Sub"): return [try binary(-)]
        case ("", "Mul"): return [try binary(*)]
        case ("", "Div"): return [try binary(/)]
        case ("", "PRelu"): return [try binary { x, slope in x < 0 ? slope * x : x }]
        case ("", "Relu"): return [try unary { $0 > 0 ? $0 : ($0.isNaN ? $0 : 0) }]
        case ("", "LeakyRelu"):
            let alpha = try node.floatAttribute("alpha", default: 0.01)
            return [try unary { $0 < 0 ? alpha * $0 : $0 }]
        case ("", "Sigmoid"): return [try unary(InterpreterElementwise.sigmoid)]
        case ("", "Tanh"): return [try unary(InterpreterElementwise.tanh)]
        case ("", "Clip"): return [try clip()]
        case ("", "Softmax"): return [try softmax()]
        case ("", "LRN"): return [try localResponseNormalization()]
        case ("", "BatchNormalization"): return [try batchNormalization()]
        case ("", "MaxPool"), ("", "AveragePool"): return [try pool()]
        case ("", "GlobalAveragePool"), ("", "GlobalMaxPool"):
            let x = try input(0)
            let planes = x.shape[0] * x.shape[1]
            return [FloatBatch(shape: try outputShape(0), values: InterpreterPooling.global(
                x.values, planes: planes, planeSize: x.values.count / max(planes, 1), maximum: node.opType == "GlobalMaxPool"))]
        case ("", "Flatten"), ("", "Reshape"), ("", "Identity"), ("", "Dropout"), ("", "Squeeze"), ("", "Unsqueeze"):
            return [FloatBatch(shape: try outputShape(0), values: try input(0).values)]
        case ("", "Transpose"):
            let x = try input(0)
            let permutation = try node.intsAttribute("perm") ?? Array((0..<x.shape.count).reversed())
            return [InterpreterLayout.transpose(x, permutation: permutation)]
        case ("", "Concat"):
            let parts = try node.inputs.indices.map { index throws(CompilerError) in try input(index) }
            let axis = try ShapeInference.normalizedAxis(try node.intAttribute("axis", default: 0), rank: parts[0].shape.count, node: node)
            return [InterpreterLayout.concat(parts, axis: axis, shape: try outputShape(0))]
        case ("", "QuantizeLinear"): return [try quantizeLinear()]
        case ("", "DequantizeLinear"): return [try dequantizeLinear()]
        case ("", "QLinearConv"): return [try quantizedConvolution()]
        case ("", "QLinearMatMul"): return [try quantizedMatMul()]
        case ("com.microsoft", "QGemm"): return [try quantizedGemm()]
        case ("com.microsoft", "QLinearAdd"): return [try quantizedAdd()]
        case ("com.microsoft", "QLinearGlobalAveragePool"): return [try quantizedGlobalAveragePool()]
        default:
            throw .unsupportedOperator(node: node.name, opType: node.opType, domain: node.domain, supported: FloatInterpreter.supportedOperators)
        }
    }

    // MARK: Access

    func input(_ index: Int) throws(CompilerError) -> FloatBatch {
        guard let name = node.optionalInput(index) else { throw .invalidModel("\(node.label) lacks its input \(index + 1)") }
        guard let value = tensors[name] else { throw .missingTensor(node: node.label, tensor: name) }
        return value
    }

    func optionalInput(_ index: Int) throws(CompilerError) -> FloatBatch? {
        node.optionalInput(index) == nil ? nil : try input(index)
    }

    func type(_ index: Int) throws(CompilerError) -> TensorType {
        guard let name = node.optionalInput(index), let type = types[name] else { throw .invalidModel("\(node.label) lacks its input \(index + 1)") }
        return type
    }

    func outputType(_ index: Int) throws(CompilerError) -> TensorType {
        guard index < node.outputs.count, let type = types[node.outputs[index]] else {
            throw .invalidModel("\(node.label): no inferred type for output \(index + 1)")
        }
        return type
    }

    func outputShape(_ index: Int) throws(CompilerError) -> [Int] { try outputType(index).shape }

    /// Exact integer values of input `index`: a constant's own integers (int32 biases beyond
    /// 2^24 are not exact as Float), otherwise the carried codes.
    func integers(_ index: Int) throws(CompilerError) -> [Int64] {
        if let name = node.optionalInput(index), let constant = constants[name], let values = constant.integerValues {
            return values
        }
        return try input(index).values.map { value in
            value.isFinite ? Int64(max(min(value, 0x1p62), -0x1p62)) : 0
        }
    }

    // MARK: Float operators

    func binary(_ operation: (Float, Float) -> Float) throws(CompilerError) -> FloatBatch {
        let a = try input(0), b = try input(1)
        return InterpreterElementwise.broadcast(a, b, shape: try outputShape(0), operation)
    }

    func unary(_ operation: (Float) -> Float) throws(CompilerError) -> FloatBatch {
        let x = try input(0)
        return FloatBatch(shape: x.shape, values: x.values.map(operation))
    }

    func clip() throws(CompilerError) -> FloatBatch {
        let x = try input(0)
        let low = try optionalInput(1)?.values.first ?? -.infinity
        let high = try optionalInput(2)?.values.first ?? .infinity
        return FloatBatch(shape: x.shape, values: x.values.map { value in value.isNaN ? value : min(max(value, low), high) })
    }

    func softmax() throws(CompilerError) -> FloatBatch {
        let x = try input(0)
        let axis = try ShapeInference.normalizedAxis(try node.intAttribute("axis", default: -1), rank: x.shape.count, node: node)
        return InterpreterElementwise.softmax(x, axis: axis)
    }

    func localResponseNormalization() throws(CompilerError) -> FloatBatch {
        let x = try input(0)
        return InterpreterElementwise.localResponseNormalization(
            x, size: try node.intAttribute("size", default: 1), alpha: try node.floatAttribute("alpha", default: 0.0001),
            beta: try node.floatAttribute("beta", default: 0.75), bias: try node.floatAttribute("bias", default: 1))
    }

    func batchNormalization() throws(CompilerError) -> FloatBatch {
        InterpreterElementwise.batchNormalization(
            try input(0), scale: try input(1).values, bias: try input(2).values, mean: try input(3).values,
            variance: try input(4).values, epsilon: try node.floatAttribute("epsilon", default: 1e-5))
    }

    func convolutionShape(inputShape: [Int], weightShape: [Int]) throws(CompilerError) -> InterpreterConvolution.Shape {
        let geometry = try WindowGeometry.resolve(node, spatial: Array(inputShape[2...]), kernel: Array(weightShape[2...]))
        return InterpreterConvolution.Shape(batch: inputShape[0], channels: inputShape[1], filters: weightShape[0],
                                            group: try node.intAttribute("group", default: 1), geometry: geometry)
    }

    func convolution() throws(CompilerError) -> FloatBatch {
        let x = try input(0), w = try input(1)
        let shape = try convolutionShape(inputShape: x.shape, weightShape: w.shape)
        let bias = try optionalInput(2)?.values ?? []
        return FloatBatch(shape: try outputShape(0), values: InterpreterConvolution.convolve(x.values, weights: w.values, bias: bias, shape: shape))
    }

    func pool() throws(CompilerError) -> FloatBatch {
        let x = try input(0)
        let kernel = try node.intsAttribute("kernel_shape") ?? []
        let geometry = try WindowGeometry.resolve(node, spatial: Array(x.shape[2...]), kernel: kernel,
                                                  ceilMode: try node.intAttribute("ceil_mode", default: 0) != 0)
        let planes = x.shape[0] * x.shape[1]
        let values = node.opType == "MaxPool"
            ? InterpreterPooling.maxPool(x.values, planes: planes, geometry: geometry)
            : InterpreterPooling.averagePool(x.values, planes: planes, geometry: geometry,
                                             countIncludePad: try node.intAttribute("count_include_pad", default: 0) != 0)
        return FloatBatch(shape: try outputShape(0), values: values)
    }

    /// `alpha · A·B + beta · C`, with C broadcast to `[M, N]`.
    func gemm() throws(CompilerError) -> FloatBatch {
        var a = try input(0)
        let b = try input(1)
        if try node.intAttribute("transA", default: 0) != 0 { a = InterpreterLayout.transpose(a, permutation: [1, 0]) }
        let transB = try node.intAttribute("transB", default: 0) != 0
        let shape = try outputShape(0)
        let (m, n, k) = (shape[0], shape[1], a.shape[1])
        var product = InterpreterElementwise.product(a.values, b.values, m: m, n: n, k: k, bTransposed: transB)
        let alpha = try node.floatAttribute("alpha", default: 1)
        if alpha != 1 { product = product.map { alpha * $0 } }
        var result = FloatBatch(shape: shape, values: product)
        if let c = try optionalInput(2) {
            let beta = try node.floatAttribute("beta", default: 1)
            result = InterpreterElementwise.broadcast(result, c, shape: shape) { value, bias in value + beta * bias }
        }
        return result
    }

    /// `[..., M, K] x [K, N]`: the leading dimensions fold into the rows.
    func matMul() throws(CompilerError) -> FloatBatch {
        let a = try input(0), b = try input(1)
        let (k, n) = (b.shape[0], b.shape[1])
        let rows = k == 0 ? 0 : a.values.count / k
        return FloatBatch(shape: try outputShape(0), values: InterpreterElementwise.product(a.values, b.values, m: rows, n: n, k: k, bTransposed: false))
    }
}
