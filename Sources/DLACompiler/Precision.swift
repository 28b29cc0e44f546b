import DLAFormat

/// The number format of a compiled model's activations and weights.
public enum Precision: String, Sendable, CaseIterable, CustomStringConvertible {
    case int8
    case fp8e4m3 = "fp8-e4m3"
    case fp8e5m2 = "fp8-e5m2"
    case fp16

    public var description: String { rawValue }

    var activationType: DLADataType {
        switch self {
        case .int8: .int8
        case .fp8e4m3: .fp8e4m3
        case .fp8e5m2: .fp8e5m2
        case .fp16: .float16
        }
    }

    /// What `.dla` metadata calls it.
    var metadataName: String {
        switch self {
        case .int8: "int8"
        case .fp8e4m3: "fp8e4m3"
        case .fp8e5m2: "fp8e5m2"
        case .fp16: "fp16"
        }
    }

    init?(_ kind: TensorQuantization.Kind) {
        switch kind {
        case .int8, .uint8: self = .int8
        case .fp8e4m3: self = .fp8e4m3
        case .fp8e5m2: self = .fp8e5m2
        }
    }

    var quantizationKind: TensorQuantization.Kind? {
        switch self {
        case .int8: .int8
        case .fp8e4m3: .fp8e4m3
        case .fp8e5m2: .fp8e5m2
        case .fp16: nil
        }
    }
}
