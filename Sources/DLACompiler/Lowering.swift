import DLAFormat
import DLANumerics

/// Turns a folded, fully quantized graph into the engine's operation vocabulary
/// (docs/EMULATOR.md, "Operation vocabulary"): one group of the `LoweringPlan` at a time.
///
/// INT8 arithmetic, per group (s = scale, z = zero point, q = code):
/// - linear: CACC sums `q_x·q_w` (padding taps take z_x); SDP adds
///   `round(b_c / (s_x·s_w,c)) − z_x·Σ q_w,c`, multiplies by `s_x·s_w,c / s_y` as a 16-bit
///   multiplier with one shift per layer (SDP has one truncation shift), applies the activation
///   in output steps and adds z_y in the converter (offset −z_y, scale 1: exact);
/// - SDP on INT8 codes with a bias: the zero point is removed, the multiplier goes to 1/256 of an
///   output step, the bias is added there (Y's ALU) and the converter shifts by 8 and adds z_y;
/// - linear with a requantized bias (ONNX Runtime's MatMul → QuantizeLinear → Add): BS as the
///   linear layer into the product's codes (clipped, not converted), then BN as the SDP on codes;
/// - element-wise add: both operands are brought to 1/256 of an output step, summed, and the
///   converter shifts by 8 and adds z_y;
/// - sigmoid / tanh: the input is scaled to the LUT's 8 fraction bits, the LUT returns Q15 and
///   the converter maps it to the output's steps.
/// FP8 and FP16 groups run SDP's float pipeline with the same structure and real scales.
struct Lowering {
    let graph: Graph
    var shapes: [String: [Int]]
    let precision: Precision
    var quantization: [String: TensorQuantization]
    let quantizedConstants: [String: QuantizedConstant]
    let sharedValueLimit: Int
    /// Pruning and weight sharing, applied to each layer's codes before its SDP is derived.
    let compress: (inout LayerWeights) throws(CompilerError) -> Void

    var builder = ModelBuilder()
    /// Weight tensors per lowered layer, for the report: (weight tensor index, unit).
    var layerWeights: [(layer: String, weight: Int, others: [Int])] = []

    static let lutFractionBits = 8
    static let lutOutputScale = 32767.0
    /// Element-wise sums are formed in 1/2^8 of an output step.
    static let elementwiseFractionBits = 8

    mutating func lower(_ plan: LoweringPlan) throws(CompilerError) -> DLAGraph {
        var inputs: [Int] = []
        for input in graph.inputs {
            let shape = try sampleShape(input.name, node: "graph input")
            if let q = quantization[input.name], precision == .fp8e4m3 || precision == .fp8e5m2, !q.saturate {
                inputs.append(convertNonSaturating(input.name, sampleShape: shape, quantization: q))
            } else {
                inputs.append(builder.addTensor(input.name, sampleShape: shape, type: precision.activationType,
                                                quantization: try dlaQuantization(input.name, node: "graph input")))
            }
        }
        for group in plan.groups {
            try lower(group)
        }
        var outputs: [Int] = []
        for output in graph.outputs {
            guard let index = builder.index[output.name] else {
                throw .missingTensor(node: "the graph outputs", tensor: output.name)
            }
            outputs.append(index)
        }
        return DLAGraph(tensors: builder.tensors, inputs: inputs, outputs: outputs, operations: builder.operations)
    }

    /// A graph input quantized to FP8 with `saturate=0`: the engine's input converter saturates,
    /// so the input stays float32 and an SDP converts it (`cvt_saturate` 0: overflow becomes NaN
    /// in E4M3FN, ±∞ in E5M2). Returns the float input; consumers read the FP8 tensor.
    mutating func convertNonSaturating(_ name: String, sampleShape: [Int], quantization q: TensorQuantization) -> Int {
        let float = builder.addTensor(name, sampleShape: sampleShape, type: .float32, quantization: .none)
        let converted = builder.addTensor(name, sampleShape: sampleShape, type: precision.activationType,
                                          quantization: .perTensor(scale: q.scale, zeroPoint: 0))
        builder.emit(name + "_to_fp8", .sdp, "sdp", inputs: [float], output: converted,
                     [DLAAttribute("cvt_scale", .float(1 / q.scale)), DLAAttribute("cvt_saturate", .int(0))])
        return float
    }

    // MARK: - Tensors

    func sampleShape(_ name: String, node: String) throws(CompilerError) -> [Int] {
        guard let shape = shapes[name], !shape.isEmpty else {
            throw .shapeMismatch(node: node, detail: "tensor '\(name)' has no batch dimension")
        }
        return Array(shape.dropFirst())
    }

    /// Graph outputs a floating-point model leaves unquantized (FP8 QDQ models usually end in a
    /// float Gemm): SDP writes them as float32 real values.
    func isFloatOutput(_ name: String) -> Bool {
        precision != .int8 && quantization[name] == nil && graph.outputs.contains { $0.name == name }
    }

    func activation(_ name: String, node: String) throws(CompilerError) -> TensorQuantization {
        if precision == .fp16 || isFloatOutput(name) { return TensorQuantization(kind: precision.quantizationKind ?? .int8, scale: 1) }
        guard let q = quantization[name] else {
            throw .unsupportedQuantization(node: node, detail: "tensor '\(name)' has no quantization (a QDQ model must quantize every tensor between accelerator operations; a float model needs --calibration)")
        }
        guard Precision(q.kind) == precision else {
            throw .unsupportedQuantization(node: node, detail: "tensor '\(name)' is \(q.kind) in a \(precision) model (mixed precisions are not supported)")
        }
        return q.asSigned
    }

    func dlaQuantization(_ name: String, node: String) throws(CompilerError) -> DLAQuantization {
        if isFloatOutput(name) { return .none }
        let q = try activation(name, node: node)
        return .perTensor(scale: q.scale, zeroPoint: precision == .int8 ? q.zeroPoint : 0)
    }

    func input(_ name: String, node: GraphNode) throws(CompilerError) -> Int {
        guard let index = builder.index[name] else { throw .missingTensor(node: node.label, tensor: name) }
        return index
    }

    mutating func addOutput(_ name: String, node: GraphNode) throws(CompilerError) -> Int {
        builder.addTensor(name, sampleShape: try sampleShape(name, node: node.label),
                          type: isFloatOutput(name) ? .float32 : precision.activationType,
                          quantization: try dlaQuantization(name, node: node.label))
    }

    func constant(_ name: String, node: GraphNode) throws(CompilerError) -> ConstantTensor {
        guard let value = graph.constants[name] else {
            throw .unsupportedPattern(node: node.label, detail: "input '\(name)' must be a constant")
        }
        return value
    }

    // MARK: - Groups

    mutating func lower(_ group: LoweringGroup) throws(CompilerError) {
        let anchor = graph.nodes[group.nodes[0]]
        switch group.kind {
        case .linear: try lowerLinear(group)
        case .elementwiseAdd: try lowerAdd(group)
        case .pointwise: try lowerPointwise(group)
        case .pool: try lowerPool(anchor, output: group.output)
        case .lrn: try lowerLRN(anchor)
        case .layout: try lowerLayout(anchor)
        case .concat: try lowerConcat(anchor)
        case .softmax: try lowerSoftmax(anchor)
        case .passThrough:
            builder.index[group.output] = try input(anchor.inputs[0], node: anchor)
        }
    }

    /// A per-channel affine map `y = a_c·x + d_c` and an activation, what SDP applies after the
    /// convolution or on its own.
    struct PointwiseProgram {
        var multiplier: [Double]
        var offset: [Double]
        var activation: Activation = .none

        enum Activation {
            case none, relu, sigmoid, tanh
            case clip(Double, Double)
            case prelu([Double])
        }

        static func identity(_ channels: Int) -> PointwiseProgram {
            PointwiseProgram(multiplier: [Double](repeating: 1, count: channels), offset: [Double](repeating: 0, count: channels))
        }

        /// Composes `y = a·x + d` after the current map.
        mutating func then(multiply a: [Double], add d: [Double]) {
            for c in multiplier.indices {
                multiplier[c] *= a[c]
                offset[c] = offset[c] * a[c] + d[c]
            }
        }
    }

    /// Values of a constant broadcast over the channels (axis 1 of the full shape): a scalar,
    /// `[C]` (for 2-D activations), `[C, 1, 1]` or `[1, C, 1, 1]`.
    func perChannel(_ tensor: ConstantTensor, channels: Int, rank: Int, node: GraphNode) throws(CompilerError) -> [Double] {
        let values = tensor.floatValues.map(Double.init)
        if values.count == 1 { return [Double](repeating: values[0], count: channels) }
        let significant = tensor.shape.enumerated().filter { $0.element != 1 }
        guard values.count == channels, significant.count == 1 else {
            throw .unsupportedPattern(node: node.label, detail: "constant of shape \(tensor.shape) is not per channel (\(channels) channels); SDP applies per-channel operands only")
        }
        // Right-aligned broadcasting: the axis counted from the end must be the channel axis.
        let axisFromEnd = tensor.shape.count - significant[0].offset
        guard axisFromEnd == rank - 1 else {
            throw .unsupportedPattern(node: node.label, detail: "constant of shape \(tensor.shape) does not broadcast along the channel axis")
        }
        return values
    }

    /// Reads an activation node into the program.
    func applyActivation(_ node: GraphNode, to program: inout PointwiseProgram, channels: Int, rank: Int) throws(CompilerError) {
        switch node.opType {
        case "Relu": program.activation = .relu
        case "Sigmoid": program.activation = .sigmoid
        case "Tanh": program.activation = .tanh
        case "LeakyRelu":
            let alpha = try node.floatAttribute("alpha", default: 0.01)
            program.activation = .prelu([Double](repeating: Double(alpha), count: channels))
        case "PRelu":
            program.activation = .prelu(try perChannel(try constant(node.inputs[1], node: node), channels: channels, rank: rank, node: node))
        case "Clip":
            var lower = -Double.infinity, upper = Double.infinity
            if node.inputs.count > 1, !node.inputs[1].isEmpty { lower = Double(try constant(node.inputs[1], node: node).floatValues.first ?? -.infinity) }
            if node.inputs.count > 2, !node.inputs[2].isEmpty { upper = Double(try constant(node.inputs[2], node: node).floatValues.first ?? .infinity) }
            if node.attributes["min"] != nil { lower = Double(try node.floatAttribute("min", default: 0)) }
            if node.attributes["max"] != nil { upper = Double(try node.floatAttribute("max", default: 0)) }
            program.activation = lower == 0 && upper == .infinity ? .relu : .clip(lower, upper)
        default:
            throw .unsupportedPattern(node: node.label, detail: "is not an activation")
        }
    }

    /// Reads a constant-operand node (BatchNormalization, Mul/Add/Sub/Div by a constant).
    func applyAffine(_ node: GraphNode, to program: inout PointwiseProgram, channels: Int, rank: Int) throws(CompilerError) {
        switch node.opType {
        case "BatchNormalization":
            guard node.inputs.count >= 5 else { throw .invalidModel("\(node.label) needs scale, bias, mean and variance") }
            let epsilon = try node.floatAttribute("epsilon", default: 1e-5)
            let gamma = try perChannel(try constant(node.inputs[1], node: node), channels: channels, rank: 2, node: node)
            let beta = try perChannel(try constant(node.inputs[2], node: node), channels: channels, rank: 2, node: node)
            let mean = try perChannel(try constant(node.inputs[3], node: node), channels: channels, rank: 2, node: node)
            let variance = try perChannel(try constant(node.inputs[4], node: node), channels: channels, rank: 2, node: node)
            let a = (0..<channels).map { gamma[$0] / (variance[$0] + Double(epsilon)).squareRoot() }
            program.then(multiply: a, add: (0..<channels).map { beta[$0] - mean[$0] * a[$0] })
        case "Mul", "Div", "Add", "Sub":
            let constantName = graph.constants[node.inputs[1]] != nil ? node.inputs[1] : node.inputs[0]
            let values = try perChannel(try constant(constantName, node: node), channels: channels, rank: rank, node: node)
            let ones = [Double](repeating: 1, count: channels), zeros = [Double](repeating: 0, count: channels)
            switch node.opType {
            case "Mul": program.then(multiply: values, add: zeros)
            case "Div":
                guard constantName == node.inputs[1], values.allSatisfy({ $0 != 0 }) else {
                    throw .unsupportedPattern(node: node.label, detail: "Div must divide an activation by a nonzero constant")
                }
                program.then(multiply: values.map { 1 / $0 }, add: zeros)
            case "Add": program.then(multiply: ones, add: values)
            default:
                if constantName == node.inputs[1] {
                    program.then(multiply: ones, add: values.map { -$0 })
                } else {
                    program.then(multiply: values.map { _ in -1 }, add: values)
                }
            }
        default:
            try applyActivation(node, to: &program, channels: channels, rank: rank)
        }
    }
}
