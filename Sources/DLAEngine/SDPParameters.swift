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

/// One SDP hardware layer: stages before the element-wise operand (bias, batch-norm scale), the
/// operand itself (the operation's second input, aligned by its own converter, as SDP's
/// operand converters do), the stages after it (activation), and the output converter (nil when
/// the result stays INT32).
public struct SDPLayer: Sendable {
    public enum ElementwiseOperation: String, Sendable { case add, maximum }

    public struct Elementwise: Sendable {
        public var operation: ElementwiseOperation
        /// Brings the operand into the accumulator's scale: `(y − offset)·scale >> shift`.
        public var operandConverter: OutputConverter
    }

    public var before: [SDPStage]
    public var elementwise: Elementwise?
    public var after: [SDPStage]
    public var converter: OutputConverter?
    public var outputType: IntegerQuantType

    /// The full stage list once the operand is known.
    func parameters(operand: Tensor<Int32>?) -> SDPParameters {
        var stages = before
        if let elementwise, let operand {
            stages.append(elementwise.operation == .add ? .add(.elementwise(operand)) : .maximum(.elementwise(operand)))
        }
        return SDPParameters(stages: stages + after, converter: converter ?? .identity, outputType: outputType)
    }
}

/// SDP on the FP16/FP8 pipeline, in FP32: per-channel bias and scale (the compiler folds the
/// weights' scales in here), an optional element-wise operand, an activation, then the output
/// multiplier and rounding to the output type. Sigmoid and tanh are evaluated exactly in FP32:
/// NVDLA's FP16 LUT arithmetic is not emulated.
public struct FloatSDPLayer: Sendable {
    public enum Activation: Sendable {
        case none, relu, sigmoid, tanh
        case clip(lower: Float, upper: Float)
        case prelu([Float])

        var usesLookupTable: Bool {
            switch self {
            case .sigmoid, .tanh: true
            default: false
            }
        }
    }

    public var bias: [Float]?
    public var scale: [Float]?
    public var elementwise: (operation: SDPLayer.ElementwiseOperation, operandScale: Float)?
    public var activation: Activation
    public var outputScale: Float
    public var outputType: ActivationSpec.ElementType
    /// FP8 output overflow: saturate (attribute `cvt_saturate` 1, the default) or NaN / ±∞
    /// (0), for a model whose QuantizeLinear says `saturate=0`.
    public var saturates: Bool

    /// An integer stage list with the same stage kinds, for the cost model (which counts stage
    /// kinds and operand bytes, not values).
    func costEquivalent(elements: Int) throws(EngineError) -> SDPParameters {
        var stages: [SDPStage] = []
        if bias != nil { stages.append(.add(.constant(0))) }
        if scale != nil { stages.append(.multiply(.constant(1), shift: 0)) }
        if elementwise != nil { stages.append(.add(.elementwise(try Tensor(shape: [elements], repeating: 0)))) }
        switch activation {
        case .none: break
        case .relu, .clip: stages.append(.relu)
        case .prelu: stages.append(.prelu(slope: .constant(1), shift: 0))
        case .sigmoid, .tanh: stages.append(.lookup(try LookupTable.activation({ $0 }, inputFractionBits: 8, outputScale: 1)))
        }
        return SDPParameters(stages: stages, converter: .identity)
    }
}
