import DLANumerics

/// Where an SDP sub-unit takes its second operand from: a register constant, per-channel values
/// read by SDP's RDMA (bias, batch-norm scale), or a whole tensor (element-wise).
public enum SDPOperand: Sendable, Hashable {
    case constant(Int32)
    case perChannel([Int32])
    case elementwise(Tensor<Int32>)

    var isElementwise: Bool {
        if case .elementwise = self { return true }
        return false
    }
}

/// One stage of SDP's X1 / X2 / Y pipes (ALU, multiplier, ReLU, LUT), applied in order.
public enum SDPStage: Sendable, Hashable {
    /// ALU add: bias, folded zero-point compensation, residual add.
    case add(SDPOperand)
    /// ALU max: element-wise max.
    case maximum(SDPOperand)
    /// ALU min.
    case minimum(SDPOperand)
    /// Multiplier then truncation: `round_half_away((x·m) >> shift)` (batch-norm scale, rescaling
    /// an element-wise operand). `shift` is 0...63.
    case multiply(SDPOperand, shift: Int)
    case relu
    /// Clamp to `lower...upper` (ReLU6 and clip once expressed in the integer domain).
    case clip(lower: Int32, upper: Int32)
    /// Negative inputs multiplied by `slope >> shift` (rounded half away); PReLU with a
    /// per-channel slope, leaky ReLU with a constant one.
    case prelu(slope: SDPOperand, shift: Int)
    /// LUT activation (sigmoid, tanh, ...). Not on profiles without `SDP_LUT`.
    case lookup(LookupTable)
}

/// SDP's program for one hardware layer: its stages, then the output converter
/// (`saturate(round_half_away((x − offset)·scale >> shift))`, DLANumerics' `OutputConverter`).
public struct SDPParameters: Sendable, Hashable {
    public var stages: [SDPStage]
    public var converter: OutputConverter
    public var outputType: IntegerQuantType

    public init(stages: [SDPStage], converter: OutputConverter, outputType: IntegerQuantType = .int8) {
        self.stages = stages
        self.converter = converter
        self.outputType = outputType
    }
}
