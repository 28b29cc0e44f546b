import DLANumerics

/// Affine quantization of an activation tensor: `real = scale·(q − zeroPoint)`.
public struct ActivationQuantization: Sendable, Hashable {
    public var scale: Float
    public var zeroPoint: Int32

    public init(scale: Float, zeroPoint: Int32) {
        self.scale = scale
        self.zeroPoint = zeroPoint
    }
}

/// An activation tensor of a compiled graph: its per-sample shape (without the batch) and type.
public struct ActivationSpec: Sendable, Hashable {
    public enum ElementType: String, Sendable, Hashable {
        case int8, int32, float32, float16, fp8e4m3, fp8e5m2

        /// Floating-point types; at run time their values live in FP32 tensors, each value exactly
        /// representable in the type (rounded on write by `round`).
        public var isFloatingPoint: Bool { self != .int8 && self != .int32 }

        /// Bytes one element occupies in memory (what a unit reading the tensor from DRAM moves).
        public var bytes: Int {
            switch self {
            case .int8, .fp8e4m3, .fp8e5m2: 1
            case .float16: 2
            case .int32, .float32: 4
            }
        }

        /// The nearest value the type stores (round to nearest even; FP8 saturates, as ONNX
        /// `saturate=1` does).
        public func round(_ x: Float) -> Float { round(x, saturating: true) }

        /// The nearest value the type stores; FP8 overflow saturates to ±max finite, or without
        /// `saturating` becomes NaN (E4M3FN) / ±∞ (E5M2), as ONNX's `saturate=0`.
        public func round(_ x: Float, saturating: Bool) -> Float {
            let overflow: FP8Overflow = saturating ? .saturate : .nonSaturating
            switch self {
            case .float16: return FP16.decode(FP16.encode(x))
            case .fp8e4m3: return FP8.decode(FP8.encode(x, as: .e4m3fn, overflow: overflow), .e4m3fn)
            case .fp8e5m2: return FP8.decode(FP8.encode(x, as: .e5m2, overflow: overflow), .e5m2)
            case .int8, .int32, .float32: return x
            }
        }
    }

    public var name: String
    public var sampleShape: [Int]
    public var elementType: ElementType
    public var quantization: ActivationQuantization?

    public init(name: String, sampleShape: [Int], elementType: ElementType, quantization: ActivationQuantization? = nil) {
        self.name = name
        self.sampleShape = sampleShape
        self.elementType = elementType
        self.quantization = quantization
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

/// A typed operation with the activation tensors it reads and writes. `kind` is what it does and
/// how the engine runs it (`EngineOperator`), built once from the file's generic attributes.
public struct EngineOperation: Sendable {
    public var name: String
    public var unit: ExecutionUnit
    public var type: String
    var kind: any EngineOperator
    public var inputs: [Int]
    public var outputs: [Int]

    init(name: String, unit: ExecutionUnit, type: String, kind: any EngineOperator, inputs: [Int], outputs: [Int]) {
        self.name = name
        self.unit = unit
        self.type = type
        self.kind = kind
        self.inputs = inputs
        self.outputs = outputs
    }
}

/// A model ready to run: typed operations in execution order and the activation tensors they
/// connect.
public struct CompiledModel: Sendable {
    public var name: String
    public var targetProfile: String
    public var tensors: [ActivationSpec]
    public var inputs: [Int]
    public var outputs: [Int]
    public var operations: [EngineOperation]

    public init(name: String, targetProfile: String, tensors: [ActivationSpec], inputs: [Int], outputs: [Int], operations: [EngineOperation]) {
        self.name = name
        self.targetProfile = targetProfile
        self.tensors = tensors
        self.inputs = inputs
        self.outputs = outputs
        self.operations = operations
    }

    /// Fails naming the first operation `profile` cannot run and the capability it lacks.
    public func checkCompatible(with profile: HardwareProfile) throws(EngineError) {
        for operation in operations {
            for (capability, name) in operation.kind.requirements where !profile.capabilities.contains(capability) {
                throw .unsupported(unit: "operation '\(operation.name)' (\(operation.unit.rawValue) \(operation.type))", capability: name, profile: profile.name)
            }
        }
    }
}
