/// Descriptive fields of a model: who made it, for which hardware, and its interface.
public struct DLAMetadata: Sendable, Hashable {
    public var name: String
    public var description: String
    /// Tool and version that produced the file, e.g. "dlactl 0.1.0".
    public var producer: String
    /// Seconds since 1970-01-01 UTC. `SOURCE_DATE_EPOCH`, when set, replaces it at write time.
    public var createdAt: Int64
    /// Hardware profile the graph was lowered for, e.g. "nv_full".
    public var targetProfile: String
    /// Dominant compute precision, e.g. "int8", "fp8e4m3", "fp16", "mixed".
    public var precision: String
    /// Producer-assigned version number of this model (not the file format version).
    public var modelVersion: Int64
    public var inputs: [DLATensorSpec]
    public var outputs: [DLATensorSpec]
    /// Free-form key/value pairs (e.g. class labels), kept in the given order.
    public var properties: [DLAProperty]

    public init(
        name: String, description: String = "", producer: String, createdAt: Int64,
        targetProfile: String, precision: String, modelVersion: Int64 = 1,
        inputs: [DLATensorSpec], outputs: [DLATensorSpec], properties: [DLAProperty] = []
    ) {
        self.name = name
        self.description = description
        self.producer = producer
        self.createdAt = createdAt
        self.targetProfile = targetProfile
        self.precision = precision
        self.modelVersion = modelVersion
        self.inputs = inputs
        self.outputs = outputs
        self.properties = properties
    }
}

/// One free-form metadata entry; an array of these (not a dictionary) keeps files reproducible.
public struct DLAProperty: Sendable, Hashable {
    public var key: String
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}
