/// `GET /v1/models`.
public struct ModelList: Codable, Sendable, Equatable {
    public var models: [ModelInfo]
    public init(models: [ModelInfo]) { self.models = models }
}

/// One model and its versions (`GET /v1/models/{name}`, and each entry of the list).
public struct ModelInfo: Codable, Sendable, Equatable {
    public var name: String
    public var activeVersion: Int?
    public var versions: [ModelVersionInfo]

    public init(name: String, activeVersion: Int?, versions: [ModelVersionInfo]) {
        self.name = name
        self.activeVersion = activeVersion
        self.versions = versions
    }

    private enum CodingKeys: String, CodingKey { case name, activeVersion, versions }

    /// `activeVersion` is always present (null when none is active): tools test for it.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(activeVersion, forKey: .activeVersion)
        try container.encode(versions, forKey: .versions)
    }
}

/// A tensor of a model's interface; -1 marks the batch dimension.
public struct TensorInterface: Codable, Sendable, Equatable {
    public var name: String
    public var shape: [Int64]
    public var dtype: String

    public init(name: String, shape: [Int64], dtype: String) {
        self.name = name
        self.shape = shape
        self.dtype = dtype
    }
}

public struct ModelVersionInfo: Codable, Sendable, Equatable {
    public var version: Int
    /// SHA-256 (hex) of the file as pushed: the version's identity.
    public var sha256: String
    public var bytes: Int64
    public var precision: String
    public var profile: String
    /// RFC 3339, UTC.
    public var createdAt: String
    /// FP32 bytes of all weights ÷ bytes stored (Deep Compression's ratio).
    public var compressionRatio: Double?
    /// Key id of the Ed25519 key that signed it; nil when unsigned.
    public var signature: String?
    public var pushedBy: UInt32
    public var active: Bool
    public var inputs: [TensorInterface]
    public var outputs: [TensorInterface]

    public init(version: Int, sha256: String, bytes: Int64, precision: String, profile: String, createdAt: String,
                compressionRatio: Double?, signature: String?, pushedBy: UInt32, active: Bool,
                inputs: [TensorInterface], outputs: [TensorInterface]) {
        self.version = version
        self.sha256 = sha256
        self.bytes = bytes
        self.precision = precision
        self.profile = profile
        self.createdAt = createdAt
        self.compressionRatio = compressionRatio
        self.signature = signature
        self.pushedBy = pushedBy
        self.active = active
        self.inputs = inputs
        self.outputs = outputs
    }

    private enum CodingKeys: String, CodingKey {
        case version, sha256, bytes, precision, profile, createdAt, compressionRatio, signature, pushedBy, active, inputs, outputs
    }

    /// Optional fields are always present (null when unknown or unsigned).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(version, forKey: .version)
        try container.encode(sha256, forKey: .sha256)
        try container.encode(bytes, forKey: .bytes)
        try container.encode(precision, forKey: .precision)
        try container.encode(profile, forKey: .profile)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(compressionRatio, forKey: .compressionRatio)
        try container.encode(signature, forKey: .signature)
        try container.encode(pushedBy, forKey: .pushedBy)
        try container.encode(active, forKey: .active)
        try container.encode(inputs, forKey: .inputs)
        try container.encode(outputs, forKey: .outputs)
    }
}

/// `POST /v1/models/{name}/versions`: 201 with `created` true, 200 with the version that
/// already holds the same bytes.
public struct PushResponse: Codable, Sendable, Equatable {
    public var name: String
    public var version: Int
    public var sha256: String
    public var bytes: Int64
    public var created: Bool
    public var activated: Bool
    /// Self-test vectors the model carried and that ran and matched before it was stored.
    public var selfTestsPassed: Int

    public init(name: String, version: Int, sha256: String, bytes: Int64, created: Bool, activated: Bool, selfTestsPassed: Int) {
        self.name = name
        self.version = version
        self.sha256 = sha256
        self.bytes = bytes
        self.created = created
        self.activated = activated
        self.selfTestsPassed = selfTestsPassed
    }
}

/// `POST /v1/models/{name}/activate` body.
public struct ActivateRequest: Codable, Sendable, Equatable {
    public var version: Int
    public init(version: Int) { self.version = version }
}

/// Answer of activate and rollback.
public struct ActivationResponse: Codable, Sendable, Equatable {
    public var name: String
    public var activeVersion: Int
    public var previousVersion: Int?

    public init(name: String, activeVersion: Int, previousVersion: Int?) {
        self.name = name
        self.activeVersion = activeVersion
        self.previousVersion = previousVersion
    }

    private enum CodingKeys: String, CodingKey { case name, activeVersion, previousVersion }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(activeVersion, forKey: .activeVersion)
        try container.encode(previousVersion, forKey: .previousVersion)
    }
}
