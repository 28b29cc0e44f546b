import DLANumerics

/// How an activation tensor is quantized: ONNX QuantizeLinear's parameters.
public struct TensorQuantization: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case int8, uint8, fp8e4m3, fp8e5m2
    }

    public var kind: Kind
    public var scale: Float
    public var zeroPoint: Int32
    /// FP8 only: ONNX's `saturate` (1 by default).
    public var saturate: Bool

    public init(kind: Kind, scale: Float, zeroPoint: Int32 = 0, saturate: Bool = true) {
        self.kind = kind
        self.scale = scale
        self.zeroPoint = zeroPoint
        self.saturate = saturate
    }

    /// The same real values as signed INT8: uint8 codes shift by −128 (the engine has no uint8).
    var asSigned: TensorQuantization {
        guard kind == .uint8 else { return self }
        return TensorQuantization(kind: .int8, scale: scale, zeroPoint: zeroPoint - 128)
    }
}

/// A constant whose exact codes the model supplies (the input of a DequantizeLinear): kept so
/// that the compiler stores the model's own integers and FP8 codes, not a re-quantization.
public struct QuantizedConstant: Sendable, Hashable {
    public var codes: ConstantTensor
    /// One scale (per tensor) or one per index of `axis`.
    public var scales: [Float]
    public var zeroPoints: [Int64]
    public var axis: Int
}

/// A graph with QuantizeLinear / DequantizeLinear and ONNX Runtime's QOperator nodes folded
/// away: every node computes in real numbers, as the float model would, and what the model
/// says about quantization is kept beside it — per activation tensor its quantization, per
/// constant its exact codes. Float models fold to themselves with both tables empty.
public struct FoldedGraph: Sendable {
    public var graph: Graph
    public var activations: [String: TensorQuantization]
    public var quantizedConstants: [String: QuantizedConstant]
    /// True when the model carries its own quantization (QDQ or QOperator).
    public var isQuantized: Bool { !activations.isEmpty }
}

/// Folds QDQ and QOperator graphs (`FoldedGraph`). Operators that ONNX Runtime's QOperator
/// output runs directly on 8-bit codes (MaxPool, Reshape, Flatten, Transpose, …) keep the
/// quantization of their input.
public enum QuantizedGraphFolding {
    /// Operators whose result on codes equals the quantized result on real values when the
    /// output keeps the input's quantization.
    static let codePreservingOperators: Set<String> = [
        "MaxPool", "Reshape", "Flatten", "Transpose", "Identity", "Squeeze", "Unsqueeze", "Dropout", "GlobalMaxPool",
    ]

    public static func fold(_ graph: Graph) throws(CompilerError) -> FoldedGraph {
        var folder = Folder(source: graph)
        try folder.run()
        return FoldedGraph(graph: folder.result(), activations: folder.activations, quantizedConstants: folder.quantizedConstants)
    }
}

private struct Folder {
    let source: Graph
    var constants: [String: ConstantTensor]
    var nodes: [GraphNode] = []
    var activations: [String: TensorQuantization] = [:]
    var quantizedConstants: [String: QuantizedConstant] = [:]
    /// A code tensor (an 8-bit activation) → the real tensor it quantizes and how.
    var codes: [String: (real: String, quantization: TensorQuantization)] = [:]
    /// Real-valued names that replace a folded node's output (DequantizeLinear of a code tensor).
    var aliases: [String: String] = [:]

    init(source: Graph) {
        self.source = source
        self.constants = source.constants
    }

    func resolve(_ name: String) -> String { aliases[name] ?? name }

    mutating func run() throws(CompilerError) {
        for node in source.nodes {
            switch (node.domain, node.opType) {
            case ("", "QuantizeLinear"):
                try quantize(node)
            case ("", "DequantizeLinear"):
                try dequantize(node)
            case ("", "QLinearConv"):
                try expand(node, floatOp: "Conv", a: 0, b: 3, bias: 8, output: (6, 7), attributes: node.attributes)
            case ("", "QLinearMatMul"):
                try expand(node, floatOp: "MatMul", a: 0, b: 3, bias: nil, output: (6, 7), attributes: [:])
            case ("com.microsoft", "QGemm"):
                try expand(node, floatOp: "Gemm", a: 0, b: 3, bias: 6, output: node.inputs.count > 7 ? (7, 8) : nil,
                           attributes: node.attributes)
            case ("com.microsoft", "QLinearAdd"):
                try expand(node, floatOp: "Add", a: 0, b: 3, bias: nil, output: (6, 7), attributes: [:])
            case ("com.microsoft", "QLinearGlobalAveragePool"):
                if try node.intAttribute("channels_last", default: 0) != 0 {
                    throw .unsupportedAttribute(node: node.label, attribute: "channels_last", reason: "= 1 is not supported (NCHW only)")
                }
                try expand(node, floatOp: "GlobalAveragePool", a: 0, b: nil, bias: nil, output: (3, 4), attributes: [:])
            case ("", let op) where QuantizedGraphFolding.codePreservingOperators.contains(op) && node.inputs.first.flatMap({ codes[$0] }) != nil:
                // The condition above found `codes[inputs[0]]`; a node without outputs is refused.
                guard let code = codes[node.inputs[0]], !node.outputs.isEmpty else {
                    throw .invalidModel("\(node.label) has no output")
                }
                let (real, quantization) = code
                var copy = node
                copy.inputs = [real] + node.inputs.dropFirst().map(resolve)
                copy.outputs = node.outputs.enumerated().map { $0.offset == 0 ? $0.element + "__real" : $0.element }
                nodes.append(copy)
                codes[node.outputs[0]] = (copy.outputs[0], quantization)
                activations[copy.outputs[0]] = quantization
            default:
                var copy = node
                copy.inputs = node.inputs.map(resolve)
                for input in copy.inputs where codes[input] != nil {
                    throw .unsupportedQuantization(node: node.label, detail: "reads the 8-bit tensor '\(input)' directly (expected a DequantizeLinear first)")
                }
                nodes.append(copy)
            }
        }
    }

    func result() -> Graph {
        var graph = source
        graph.nodes = nodes
        graph.constants = constants
        graph.outputs = source.outputs.map { output in
            var copy = output
            if let code = codes[output.name] {
                copy.name = code.real
            } else {
                copy.name = resolve(output.name)
            }
            copy.elementType = .float32
            return copy
        }
        return graph
    }

    // MARK: - QuantizeLinear / DequantizeLinear

    func scalar(_ name: String, node: GraphNode, role: String) throws(CompilerError) -> ConstantTensor {
        guard let tensor = constants[name] else {
            throw .unsupportedQuantization(node: node.label, detail: "\(role) '\(name)' must be a constant")
        }
        return tensor
    }

    /// The quantization parameters of a Q/DQ node or of a QOperator's tensor: scale (constant),
    /// zero point (constant, optional; its type fixes the code type, default uint8).
    func parameters(scale scaleName: String, zeroPoint zeroName: String?, node: GraphNode,
                    codeType: ElementType? = nil) throws(CompilerError) -> (scales: [Float], zeroPoints: [Int64], type: ElementType) {
        let scale = try scalar(scaleName, node: node, role: "scale")
        let scales = scale.floatValues
        guard !scales.isEmpty, scales.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            throw .unsupportedQuantization(node: node.label, detail: "scale '\(scaleName)' must be positive and finite")
        }
        var type = codeType ?? .uint8
        var zeroPoints = [Int64](repeating: 0, count: scales.count)
        if let zeroName, !zeroName.isEmpty {
            let zero = try scalar(zeroName, node: node, role: "zero point")
            type = zero.elementType
            switch zero.elementType {
            case .int8, .uint8, .int32:
                zeroPoints = zero.integerValues ?? []
            case .fp8e4m3fn, .fp8e5m2:
                guard zero.floatValues.allSatisfy({ $0 == 0 }) else {
                    throw .unsupportedQuantization(node: node.label, detail: "FP8 zero point must be 0")
                }
                zeroPoints = [Int64](repeating: 0, count: zero.count)
            default:
                throw .unsupportedQuantization(node: node.label, detail: "zero point type \(zero.elementType) (expected int8, uint8, float8e4m3fn or float8e5m2)")
            }
            guard zeroPoints.count == scales.count else {
                throw .unsupportedQuantization(node: node.label, detail: "\(scales.count) scales but \(zeroPoints.count) zero points")
            }
        }
        return (scales, zeroPoints, type)
    }

    func activationQuantization(scale: String, zeroPoint: String?, node: GraphNode) throws(CompilerError) -> TensorQuantization {
        let p = try parameters(scale: scale, zeroPoint: zeroPoint, node: node)
        guard p.scales.count == 1 else {
            throw .unsupportedQuantization(node: node.label, detail: "per-axis quantization of an activation (\(p.scales.count) scales); activations need one scale")
        }
        let blockSize = try node.intAttribute("block_size", default: 0)
        guard blockSize == 0 else {
            throw .unsupportedAttribute(node: node.label, attribute: "block_size", reason: "= \(blockSize): blocked quantization is not supported")
        }
        let saturate = try node.intAttribute("saturate", default: 1) != 0
        let kind: TensorQuantization.Kind
        switch p.type {
        case .int8: kind = .int8
        case .uint8: kind = .uint8
        case .fp8e4m3fn: kind = .fp8e4m3
        case .fp8e5m2: kind = .fp8e5m2
        default: throw .unsupportedQuantization(node: node.label, detail: "quantized type \(p.type)")
        }
        return TensorQuantization(kind: kind, scale: p.scales[0], zeroPoint: Int32(p.zeroPoints[0]), saturate: saturate)
    }

    func axis(_ node: GraphNode, rank: Int) throws(CompilerError) -> Int {
        let axis = try node.intAttribute("axis", default: 1)
        return axis < 0 ? axis + rank : axis
    }

    mutating func quantize(_ node: GraphNode) throws(CompilerError) {
        guard node.inputs.count >= 2, let output = node.outputs.first, !output.isEmpty else {
            throw .invalidModel("\(node.label) needs an input, a scale and an output")
        }
        try checkKnownAttributes(node, ["axis", "saturate", "block_size", "output_dtype"])
        let input = resolve(node.inputs[0])
        if let constant = constants[input] {
            // A constant quantized in the graph (weights stored as float): quantize it now.
            let p = try parameters(scale: node.inputs[1], zeroPoint: node.inputs.count > 2 ? node.inputs[2] : nil, node: node)
            let axis = try self.axis(node, rank: constant.shape.count)
            let saturate = try node.intAttribute("saturate", default: 1) != 0
            let codes = try Self.quantizeConstant(constant, scales: p.scales, zeroPoints: p.zeroPoints, type: p.type, axis: axis,
                                                  saturate: saturate, node: node)
            constants[output] = codes
            return
        }
        let quantization = try activationQuantization(scale: node.inputs[1], zeroPoint: node.inputs.count > 2 ? node.inputs[2] : nil, node: node)
        if let existing = activations[input], existing != quantization {
            throw .unsupportedQuantization(node: node.label, detail: "tensor '\(input)' is quantized twice with different parameters")
        }
        activations[input] = quantization
        codes[output] = (input, quantization)
    }

    mutating func dequantize(_ node: GraphNode) throws(CompilerError) {
        guard node.inputs.count >= 2, let output = node.outputs.first, !output.isEmpty else {
            throw .invalidModel("\(node.label) needs an input, a scale and an output")
        }
        try checkKnownAttributes(node, ["axis", "block_size"])
        let input = node.inputs[0]
        if let constant = constants[input] {
            let zeroName = node.inputs.count > 2 ? node.inputs[2] : nil
            let p = try parameters(scale: node.inputs[1], zeroPoint: zeroName, node: node, codeType: constant.elementType)
            let axis = p.scales.count == 1 ? 0 : try self.axis(node, rank: constant.shape.count)
            let real = try Self.dequantizeConstant(constant, scales: p.scales, zeroPoints: p.zeroPoints, axis: axis, node: node)
            constants[output] = real
            quantizedConstants[output] = QuantizedConstant(codes: constant, scales: p.scales, zeroPoints: p.zeroPoints, axis: axis)
            return
        }
        guard let code = codes[input] else {
            throw .unsupportedQuantization(node: node.label, detail: "dequantizes '\(input)', which no QuantizeLinear or quantized operator produced (quantized graph inputs are not supported: feed floats and quantize in the graph)")
        }
        aliases[output] = code.real
    }

    /// Attributes newer opsets add change an operator's meaning; refusing unknown ones keeps the
    /// compiler from silently misreading them.
    func checkKnownAttributes(_ node: GraphNode, _ known: Set<String>) throws(CompilerError) {
        for name in node.attributes.keys.sorted() where !known.contains(name) {
            throw .unsupportedAttribute(node: node.label, attribute: name, reason: "is not implemented (opset \(source.opset))")
        }
        if try node.intAttribute("output_dtype", default: 0) != 0 {
            throw .unsupportedAttribute(node: node.label, attribute: "output_dtype", reason: "is not implemented; give a zero point instead")
        }
    }

    // MARK: - QOperator nodes

    /// Rewrites a QOperator node as its float operator on the real values of its inputs, with the
    /// output's quantization recorded. Inputs `a`, `b` are (codes, scale, zero point) triples at
    /// those positions; `bias` is an int32 tensor in units of scale_a·scale_b.
    mutating func expand(_ node: GraphNode, floatOp: String, a: Int, b: Int?, bias: Int?, output: (scale: Int, zeroPoint: Int)?,
                         attributes: [String: AttributeValue]) throws(CompilerError) {
        func input(_ index: Int) -> String? { index < node.inputs.count && !node.inputs[index].isEmpty ? node.inputs[index] : nil }
        func real(_ index: Int) throws(CompilerError) -> (name: String, scales: [Float]) {
            guard let name = input(index), let scaleName = input(index + 1) else {
                throw .invalidModel("\(node.label) lacks input \(index) or its scale")
            }
            if let code = codes[name] { return (code.real, [code.quantization.scale]) }
            if let constant = constants[name] {
                let p = try parameters(scale: scaleName, zeroPoint: input(index + 2), node: node, codeType: constant.elementType)
                var axis = 0
                if p.scales.count > 1 {
                    // Per-channel weights: QLinearConv's are [K, C, R, S] (axis 0); QGemm's and
                    // QLinearMatMul's follow B's orientation.
                    if floatOp == "Conv" { axis = 0 } else {
                        axis = try node.intAttribute("transB", default: 0) != 0 ? 0 : 1
                    }
                }
                let realName = name + "__dequantized"
                constants[realName] = try Self.dequantizeConstant(constant, scales: p.scales, zeroPoints: p.zeroPoints, axis: axis, node: node)
                quantizedConstants[realName] = QuantizedConstant(codes: constant, scales: p.scales, zeroPoints: p.zeroPoints, axis: axis)
                return (realName, p.scales)
            }
            throw .unsupportedQuantization(node: node.label, detail: "input '\(name)' is neither a quantized activation nor a constant")
        }
        guard let outputName = node.outputs.first, !outputName.isEmpty else { throw .invalidModel("\(node.label) has no output") }
        let first = try real(a)
        var inputs = [first.name]
        var productScales = first.scales
        if let b {
            let second = try real(b)
            inputs.append(second.name)
            if floatOp != "Add" {
                productScales = second.scales.map { first.scales[0] * $0 }
            }
        }
        if let bias, let biasName = input(bias) {
            guard let constant = constants[biasName], let integers = constant.integerValues else {
                throw .unsupportedQuantization(node: node.label, detail: "bias '\(biasName)' must be an int32 constant")
            }
            guard productScales.count == 1 || productScales.count == integers.count else {
                throw .unsupportedQuantization(node: node.label, detail: "bias '\(biasName)' has \(integers.count) values for \(productScales.count) weight scales")
            }
            let realName = biasName + "__dequantized"
            let values = integers.enumerated().map { Float($0.element) * productScales[productScales.count == 1 ? 0 : $0.offset] }
            constants[realName] = ConstantTensor(floats: values, shape: constant.shape)
            quantizedConstants[realName] = QuantizedConstant(codes: constant, scales: productScales, zeroPoints: [Int64](repeating: 0, count: productScales.count), axis: 0)
            inputs.append(realName)
        }
        var floatAttributes = attributes
        floatAttributes["channels_last"] = nil
        let realOutput = outputName + "__real"
        nodes.append(GraphNode(name: node.name, opType: floatOp, inputs: inputs, outputs: [realOutput], attributes: floatAttributes))
        if let output {
            guard let scaleName = input(output.scale) else { throw .invalidModel("\(node.label) lacks its output scale") }
            let quantization = try activationQuantization(scale: scaleName, zeroPoint: input(output.zeroPoint), node: node)
            activations[realOutput] = quantization
            codes[outputName] = (realOutput, quantization)
        } else {
            aliases[outputName] = realOutput
        }
    }

    // MARK: - Constants

    static func channelIndex(_ flat: Int, shape: [Int], axis: Int, channels: Int) -> Int {
        guard channels > 1 else { return 0 }
        let inner = shape.dropFirst(axis + 1).reduce(1, *)
        return (flat / inner) % channels
    }

    static func dequantizeConstant(_ codes: ConstantTensor, scales: [Float], zeroPoints: [Int64], axis: Int,
                                   node: GraphNode) throws(CompilerError) -> ConstantTensor {
        if scales.count > 1 {
            guard axis >= 0, axis < codes.shape.count, codes.shape[axis] == scales.count else {
                throw .unsupportedQuantization(node: node.label, detail: "\(scales.count) scales do not match axis \(axis) of shape \(codes.shape)")
            }
        }
        let values = codes.floatValues
        var real = [Float](repeating: 0, count: values.count)
        for i in values.indices {
            let c = channelIndex(i, shape: codes.shape, axis: axis, channels: scales.count)
            real[i] = (values[i] - Float(zeroPoints.isEmpty ? 0 : zeroPoints[c])) * scales[c]
        }
        return ConstantTensor(floats: real, shape: codes.shape)
    }

    static func quantizeConstant(_ tensor: ConstantTensor, scales: [Float], zeroPoints: [Int64], type: ElementType, axis: Int,
                                 saturate: Bool, node: GraphNode) throws(CompilerError) -> ConstantTensor {
        if scales.count > 1 {
            guard axis >= 0, axis < tensor.shape.count, tensor.shape[axis] == scales.count else {
                throw .unsupportedQuantization(node: node.label, detail: "\(scales.count) scales do not match axis \(axis) of shape \(tensor.shape)")
            }
        }
        let values = tensor.floatValues
        var codes = [UInt8](repeating: 0, count: values.count)
        for i in values.indices {
            let c = channelIndex(i, shape: tensor.shape, axis: axis, channels: scales.count)
            switch type {
            case .int8:
                codes[i] = UInt8(bitPattern: Int8(AffineQuantization.quantize(values[i], scale: scales[c], zeroPoint: Int32(zeroPoints[c]), type: .int8)))
            case .uint8:
                codes[i] = UInt8(AffineQuantization.quantize(values[i], scale: scales[c], zeroPoint: Int32(zeroPoints[c]), type: .uint8))
            case .fp8e4m3fn:
                codes[i] = FP8.quantize(values[i], scale: scales[c], as: .e4m3fn, overflow: saturate ? .saturate : .nonSaturating)
            case .fp8e5m2:
                codes[i] = FP8.quantize(values[i], scale: scales[c], as: .e5m2, overflow: saturate ? .saturate : .nonSaturating)
            default:
                throw .unsupportedQuantization(node: node.label, detail: "quantized type \(type)")
            }
        }
        return ConstantTensor(elementType: type, shape: tensor.shape, storage: .bytes(codes))
    }
}
