/// The hardware unit that executes an operation, named as NVDLA names them.
public enum DLAUnit: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case convolution = 1
    case sdp = 2
    case pdp = 3
    case cdp = 4
    case rubik = 5
    case bdma = 6
    /// Operations the accelerator lacks, run by the host.
    case cpu = 7

    public var description: String {
        switch self {
        case .convolution: "convolution"
        case .sdp: "sdp"
        case .pdp: "pdp"
        case .cdp: "cdp"
        case .rubik: "rubik"
        case .bdma: "bdma"
        case .cpu: "cpu"
        }
    }

    public init?(name: String) {
        guard let match = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = match
    }
}

/// A typed operation attribute. The format stores them; the engine gives them meaning.
public enum DLAAttributeValue: Sendable, Hashable {
    case int(Int64)
    case ints([Int64])
    case float(Float)
    case floats([Float])
    case string(String)
    /// Index of a tensor in the weights section.
    case weight(Int)

    var kindCode: UInt8 {
        switch self {
        case .int: 1
        case .ints: 2
        case .float: 3
        case .floats: 4
        case .string: 5
        case .weight: 6
        }
    }
}

public struct DLAAttribute: Sendable, Hashable {
    public var key: String
    public var value: DLAAttributeValue

    public init(_ key: String, _ value: DLAAttributeValue) {
        self.key = key
        self.value = value
    }
}

/// One hardware operation: reads activation tensors, writes activation tensors.
public struct DLAOperation: Sendable, Hashable {
    public var name: String
    public var unit: DLAUnit
    /// What the unit does, e.g. "conv", "fc", "bias_relu", "maxpool", "softmax".
    public var type: String
    /// Ids of activation tensors read, in the order the op type defines.
    public var inputs: [Int]
    /// Ids of activation tensors written.
    public var outputs: [Int]
    /// Attributes in the producer's order; keys are unique within an operation.
    public var attributes: [DLAAttribute]

    public init(name: String, unit: DLAUnit, type: String, inputs: [Int], outputs: [Int], attributes: [DLAAttribute] = []) {
        self.name = name
        self.unit = unit
        self.type = type
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
    }

    public func attribute(_ key: String) -> DLAAttributeValue? {
        attributes.first(where: { $0.key == key })?.value
    }

    /// Indices of the weights-section tensors this operation references, in attribute order.
    public var weightReferences: [Int] {
        attributes.compactMap { if case .weight(let index) = $0.value { index } else { nil } }
    }
}

/// The ordered operation list and the activation tensors that connect operations.
/// Activation tensor ids are their positions in `tensors`.
public struct DLAGraph: Sendable, Hashable {
    public var tensors: [DLATensorSpec]
    /// Activation tensors fed by the caller, in metadata input order.
    public var inputs: [Int]
    /// Activation tensors returned to the caller, in metadata output order.
    public var outputs: [Int]
    /// Operations in execution (topological) order.
    public var operations: [DLAOperation]

    public init(tensors: [DLATensorSpec], inputs: [Int], outputs: [Int], operations: [DLAOperation]) {
        self.tensors = tensors
        self.inputs = inputs
        self.outputs = outputs
        self.operations = operations
    }
}
