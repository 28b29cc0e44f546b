import DLANumerics

/// The compiler's view of an ONNX graph: nodes with named inputs and outputs, constants by name,
/// and the graph's inputs and outputs. It is independent of protobuf so that every pass after
/// import (shape inference, the float interpreter, quantization, lowering) is tested on graphs
/// built in code as well as on imported files.

/// ONNX element types the compiler understands (`TensorProto.DataType` codes).
public enum ElementType: Int, Sendable, Hashable, CustomStringConvertible {
    case float32 = 1
    case uint8 = 2
    case int8 = 3
    case int32 = 6
    case int64 = 7
    case float16 = 10
    case float64 = 11
    case fp8e4m3fn = 17
    case fp8e5m2 = 19

    public var description: String {
        switch self {
        case .float32: "float32"
        case .uint8: "uint8"
        case .int8: "int8"
        case .int32: "int32"
        case .int64: "int64"
        case .float16: "float16"
        case .float64: "float64"
        case .fp8e4m3fn: "float8e4m3fn"
        case .fp8e5m2: "float8e5m2"
        }
    }
}

/// A constant (initializer, `Constant` node or tensor attribute) with its values decoded.
/// Integer and 8-bit float tensors keep their exact codes; floats keep their values.
public struct ConstantTensor: Sendable, Hashable {
    public enum Storage: Sendable, Hashable {
        case floats([Float])
        case integers([Int64])
        /// Raw 8-bit codes of `uint8`, `int8` (two's complement), `fp8e4m3fn` and `fp8e5m2`.
        case bytes([UInt8])
    }

    public var elementType: ElementType
    public var shape: [Int]
    public var storage: Storage

    public init(elementType: ElementType, shape: [Int], storage: Storage) {
        self.elementType = elementType
        self.shape = shape
        self.storage = storage
    }

    public init(floats: [Float], shape: [Int]) {
        self.init(elementType: .float32, shape: shape, storage: .floats(floats))
    }

    public var count: Int { shape.reduce(1, *) }

    /// Every element as a real number (8-bit floats decoded, integers converted).
    public var floatValues: [Float] {
        switch storage {
        case .floats(let values): return values
        case .integers(let values): return values.map { Float($0) }
        case .bytes(let codes):
            switch elementType {
            case .int8: return codes.map { Float(Int8(bitPattern: $0)) }
            case .fp8e4m3fn: return codes.map { FP8.decode($0, .e4m3fn) }
            case .fp8e5m2: return codes.map { FP8.decode($0, .e5m2) }
            default: return codes.map { Float($0) }
            }
        }
    }

    /// Every element as an integer; nil for floating-point tensors.
    public var integerValues: [Int64]? {
        switch storage {
        case .integers(let values): return values
        case .bytes(let codes):
            switch elementType {
            case .int8: return codes.map { Int64(Int8(bitPattern: $0)) }
            case .uint8: return codes.map { Int64($0) }
            default: return nil
            }
        case .floats: return nil
        }
    }
}

/// An ONNX attribute value.
public enum AttributeValue: Sendable, Hashable {
    case int(Int64)
    case ints([Int64])
    case float(Float)
    case floats([Float])
    case string(String)
    case tensor(ConstantTensor)
}

/// One ONNX node. An empty input name marks an omitted optional input, as in ONNX.
public struct GraphNode: Sendable, Hashable {
    public var name: String
    public var opType: String
    /// "" for the default ONNX domain, "com.microsoft" for ONNX Runtime's contrib ops.
    public var domain: String
    public var inputs: [String]
    public var outputs: [String]
    public var attributes: [String: AttributeValue]

    public init(name: String, opType: String, domain: String = "", inputs: [String], outputs: [String],
                attributes: [String: AttributeValue] = [:]) {
        self.name = name
        self.opType = opType
        self.domain = domain
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
    }

    /// "Conv 'conv1'" — how errors name a node.
    public var label: String { name.isEmpty ? opType : "\(opType) '\(name)'" }
}

/// A dimension of a graph input or output: a number or a symbol (the batch, usually).
public enum Dimension: Sendable, Hashable, CustomStringConvertible {
    case fixed(Int)
    case symbolic(String)

    public var description: String {
        switch self {
        case .fixed(let value): "\(value)"
        case .symbolic(let name): name.isEmpty ? "?" : name
        }
    }
}

public struct GraphValue: Sendable, Hashable {
    public var name: String
    public var elementType: ElementType
    public var shape: [Dimension]

    public init(name: String, elementType: ElementType, shape: [Dimension]) {
        self.name = name
        self.elementType = elementType
        self.shape = shape
    }
}

/// An imported graph. Dimension 0 of every activation is the batch; the compiler works on
/// per-sample shapes (the batch dropped) once shapes are inferred.
public struct Graph: Sendable, Hashable {
    public var name: String
    /// The default domain's opset version.
    public var opset: Int
    public var inputs: [GraphValue]
    public var outputs: [GraphValue]
    /// In topological order (the importer sorts them).
    public var nodes: [GraphNode]
    public var constants: [String: ConstantTensor]

    public init(name: String, opset: Int, inputs: [GraphValue], outputs: [GraphValue], nodes: [GraphNode],
                constants: [String: ConstantTensor]) {
        self.name = name
        self.opset = opset
        self.inputs = inputs
        self.outputs = outputs
        self.nodes = nodes
        self.constants = constants
    }
}
