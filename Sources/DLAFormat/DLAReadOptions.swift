/// Policy for `DLAFile.read`.
public struct DLAReadOptions: Sendable {
    /// Reject unsigned files and files whose signature does not verify.
    public var requireSignature: Bool
    /// When set, only signatures by these keys count as valid; others are reported invalid.
    public var trustedKeys: [DLAPublicKey]?
    /// What one model may claim; the reader enforces `maxWeightBytes` and `maxOperations`.
    public var limits: DLAResourceLimits
    /// Tensors of rank ≥ 2 at or below this density also get the row-compressed sparse form.
    public var sparseDensityThreshold: Double

    public init(requireSignature: Bool = false, trustedKeys: [DLAPublicKey]? = nil,
                limits: DLAResourceLimits = DLAResourceLimits(), sparseDensityThreshold: Double = 0.5) {
        self.requireSignature = requireSignature
        self.trustedKeys = trustedKeys
        self.limits = limits
        self.sparseDensityThreshold = sparseDensityThreshold
    }
}

/// What the trailer says about who signed the file.
public enum DLASignatureStatus: Sendable, Hashable, CustomStringConvertible {
    case unsigned
    /// Signed, and the signature verifies; `keyID` is 16 hex digits.
    case valid(keyID: String)
    /// Signed, but the signature does not verify (or the key is not trusted).
    case invalid(keyID: String, reason: String)

    public var description: String {
        switch self {
        case .unsigned: "unsigned"
        case .valid(let keyID): "valid (key \(keyID))"
        case .invalid(let keyID, let reason): "INVALID (key \(keyID)): \(reason)"
        }
    }
}
