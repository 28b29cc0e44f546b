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
        case int8, int32, float32
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

/// One operation in the engine's typed form, built once from the file's generic attributes.
public enum EngineOperationKind: Sendable {
    case convolution(ConvolutionParameters, Int8ConvolutionWeights, paddingValue: Int8, truncation: Int)
    case fullyConnected(Int8ConvolutionWeights, truncation: Int)
    case sdp(SDPLayer)
    case pool(PDPParameters)
    case localResponseNormalization(CDPParameters)
    case transpose(permutation: [Int])
    case contract(strideY: Int, strideX: Int)
    case concatenate(axis: Int)
    case slice(axis: Int, range: Range<Int>)
    case reshape
    case softmax
    case quantize
    case dequantize
}

/// A typed operation with the activation tensors it reads and writes.
public struct EngineOperation: Sendable {
    public var name: String
    public var unit: ExecutionUnit
    public var type: String
    public var kind: EngineOperationKind
    public var inputs: [Int]
    public var outputs: [Int]

    public init(name: String, unit: ExecutionUnit, type: String, kind: EngineOperationKind, inputs: [Int], outputs: [Int]) {
        self.name = name
        self.unit = unit
        self.type = type
        self.kind = kind
        self.inputs = inputs
        self.outputs = outputs
    }

    /// What a profile must have to run this operation, as (capability, its name).
    var requirements: [(HardwareProfile.Capabilities, String)] {
        switch kind {
        case .convolution, .fullyConnected: [(.int8, "INT8 convolution")]
        case .sdp(let layer):
            (layer.elementwise == nil ? [] : [(.sdpElementwise, "element-wise operand (SDP_EW)")])
                + (layer.before + layer.after).compactMap { stage -> (HardwareProfile.Capabilities, String)? in
                    if case .lookup = stage { (.sdpLookupTable, "LUT activation (SDP_LUT)") } else { nil }
                }
        case .pool: [(.pdp, "pooling (PDP)")]
        case .localResponseNormalization: [(.cdp, "local response normalization (CDP)")]
        case .transpose, .contract: [(.rubik, "reshape engine (RUBIK)")]
        case .concatenate, .slice: [(.bdma, "bridge DMA (BDMA)")]
        case .reshape, .softmax, .quantize, .dequantize: []
        }
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
            for (capability, name) in operation.requirements where !profile.capabilities.contains(capability) {
                throw .unsupported(unit: "operation '\(operation.name)' (\(operation.unit.rawValue) \(operation.type))", capability: name, profile: profile.name)
            }
        }
    }
}
