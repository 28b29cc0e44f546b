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
