/// Why a model cannot be compiled. Every case renders as one line that names the node or tensor
/// at fault, what was expected and what was found: `dlactl compile` prints it after `error:`.
public enum CompilerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The bytes are not an ONNX ModelProto (protobuf decoding failed).
    case notONNX(String)
    case invalidModel(String)
    case unsupportedOpset(domain: String, version: Int, supported: String)
    case unsupportedOperator(node: String, opType: String, domain: String, supported: [String])
    case unsupportedAttribute(node: String, attribute: String, reason: String)
    case externalData(tensor: String, location: String, reason: String)
    case missingTensor(node: String, tensor: String)
    case shapeMismatch(node: String, detail: String)
    case unsupportedQuantization(node: String, detail: String)
    case unsupportedPattern(node: String, detail: String)
    case calibration(String)
    case invalidOption(String)
    case profile(String)
    case accuracyDrop(before: Double, after: Double, allowed: Double)

    public var description: String {
        switch self {
        case .notONNX(let detail): "not an ONNX model: \(detail)"
        case .invalidModel(let detail): "invalid ONNX model: \(detail)"
        case .unsupportedOpset(let domain, let version, let supported):
            "opset \(version) of domain '\(domain.isEmpty ? "ai.onnx" : domain)' is not supported (supported: \(supported))"
        case .unsupportedOperator(let node, let opType, let domain, let supported):
            "unsupported operator \(domain.isEmpty ? "" : domain + ".")\(opType) (node '\(node)'); supported: \(supported.joined(separator: ", "))"
        case .unsupportedAttribute(let node, let attribute, let reason): "\(node): attribute '\(attribute)' \(reason)"
        case .externalData(let tensor, let location, let reason):
            "tensor '\(tensor)' keeps its data in external file '\(location)': \(reason)"
        case .missingTensor(let node, let tensor): "\(node) reads tensor '\(tensor)' that no node, input or initializer defines"
        case .shapeMismatch(let node, let detail): "inconsistent shapes at \(node): \(detail)"
        case .unsupportedQuantization(let node, let detail): "\(node): \(detail)"
        case .unsupportedPattern(let node, let detail): "\(node): \(detail)"
        case .calibration(let detail): "calibration: \(detail)"
        case .invalidOption(let detail): detail
        case .profile(let detail): detail
        case .accuracyDrop(let before, let after, let allowed):
            "compression drops top-1 accuracy from \(Decimal2(before * 100)) % to \(Decimal2(after * 100)) % "
                + "(\(Decimal2((before - after) * 100)) pp, allowed \(Decimal2(allowed * 100)) pp)"
        }
    }
}
