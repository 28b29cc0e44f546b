/// The emulated accelerator's cost of one request: its share of the batch it ran in.
public struct EmulatedCost: Codable, Sendable, Equatable {
    public var cycles: Int64
    public var energyMicrojoules: Double
    public var profile: String

    public init(cycles: Int64, energyMicrojoules: Double, profile: String) {
        self.cycles = cycles
        self.energyMicrojoules = energyMicrojoules
        self.profile = profile
    }
}

/// The best class of one sample of the first output.
public struct TopClass: Codable, Sendable, Equatable {
    public var index: Int
    public var score: Float

    public init(index: Int, score: Float) {
        self.index = index
        self.score = score
    }

    private enum CodingKeys: String, CodingKey { case index, score }

    /// JSON has no NaN or infinity: a non-finite score (possible in FP8/FP16 outputs) is null.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(index, forKey: .index)
        try container.encode(score.isFinite ? score : nil, forKey: .score)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        index = try container.decode(Int.self, forKey: .index)
        score = try container.decodeIfPresent(Float.self, forKey: .score) ?? .nan
    }
}

/// Rows of output values as JSON writes them: non-finite values are null, and read back as NaN.
enum FiniteRows {
    static func encode(_ rows: [[Float]]) -> [[Float?]] { rows.map { $0.map { $0.isFinite ? $0 : nil } } }
    static func decode(_ rows: [[Float?]]) -> [[Float]] { rows.map { $0.map { $0 ?? .nan } } }
}

/// `POST /v1/models/{name}/infer` (JSON answer). `outputs` holds the first output's rows, or,
/// for a model with several outputs, `outputsByName` holds all of them.
public struct InferResponse: Codable, Sendable, Equatable {
    public var id: Int64
    public var model: String
    public var version: Int
    public var outputs: [[Float]]
    public var outputsByName: [String: [[Float]]]?
    public var top1: [TopClass]
    public var latencyMicros: Int64
    public var emulated: EmulatedCost

    public init(id: Int64, model: String, version: Int, outputs: [[Float]], outputsByName: [String: [[Float]]]?,
                top1: [TopClass], latencyMicros: Int64, emulated: EmulatedCost) {
        self.id = id
        self.model = model
        self.version = version
        self.outputs = outputs
        self.outputsByName = outputsByName
        self.top1 = top1
        self.latencyMicros = latencyMicros
        self.emulated = emulated
    }

    private enum CodingKeys: String, CodingKey { case id, model, version, outputs, outputsByName, top1, latencyMicros, emulated }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(Int64.self, forKey: .id)
        model = try container.decode(String.self, forKey: .model)
        version = try container.decode(Int.self, forKey: .version)
        outputs = FiniteRows.decode(try container.decode([[Float?]].self, forKey: .outputs))
        outputsByName = try container.decodeIfPresent([String: [[Float?]]].self, forKey: .outputsByName)?.mapValues(FiniteRows.decode)
        top1 = try container.decode([TopClass].self, forKey: .top1)
        latencyMicros = try container.decode(Int64.self, forKey: .latencyMicros)
        emulated = try container.decode(EmulatedCost.self, forKey: .emulated)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(model, forKey: .model)
        try container.encode(version, forKey: .version)
        try container.encode(FiniteRows.encode(outputs), forKey: .outputs)
        try container.encodeIfPresent(outputsByName?.mapValues(FiniteRows.encode), forKey: .outputsByName)
        try container.encode(top1, forKey: .top1)
        try container.encode(latencyMicros, forKey: .latencyMicros)
        try container.encode(emulated, forKey: .emulated)
    }
}

/// One row of `GET /v1/inferences`.
public struct InferenceItem: Codable, Sendable, Equatable {
    public var id: Int64
    /// RFC 3339 with microseconds, UTC: when the row was stored.
    public var time: String
    public var model: String
    public var version: Int
    /// "ok" or the error code the request failed with.
    public var status: String
    public var batchSize: Int
    public var latencyMicros: Int64
    public var cycles: Int64
    public var energyMicrojoules: Double
    public var top1: [TopClass]
    public var clientUid: UInt32
    /// SHA-256 (hex) of the request body's inputs.
    public var inputSha256: String
    /// The `X-Request-Id` the daemon answered with and logged; empty for rows stored before the store's schema 3.
    public var requestId: String
    /// What a failed request was told; absent for a successful one (and for failures stored before the store's schema 3).
    public var error: String?

    public init(id: Int64, time: String, model: String, version: Int, status: String, batchSize: Int, latencyMicros: Int64,
                cycles: Int64, energyMicrojoules: Double, top1: [TopClass], clientUid: UInt32, inputSha256: String,
                requestId: String, error: String?) {
        self.id = id
        self.time = time
        self.model = model
        self.version = version
        self.status = status
        self.batchSize = batchSize
        self.latencyMicros = latencyMicros
        self.cycles = cycles
        self.energyMicrojoules = energyMicrojoules
        self.top1 = top1
        self.clientUid = clientUid
        self.inputSha256 = inputSha256
        self.requestId = requestId
        self.error = error
    }
}

/// `GET /v1/inferences`: a page, newest first; `next` is the cursor for `after=`.
public struct InferencePage: Codable, Sendable, Equatable {
    public var items: [InferenceItem]
    public var next: Int64?

    public init(items: [InferenceItem], next: Int64?) {
        self.items = items
        self.next = next
    }

    /// `next` is always present (null on the last page): tools test for it.
    private enum CodingKeys: String, CodingKey { case items, next }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(items, forKey: .items)
        try container.encode(next, forKey: .next)
    }
}

/// `GET /v1/inferences/{id}`: the row with its outputs (first output's rows).
public struct InferenceDetail: Codable, Sendable, Equatable {
    public var item: InferenceItem
    public var outputs: [[Float]]

    public init(item: InferenceItem, outputs: [[Float]]) {
        self.item = item
        self.outputs = outputs
    }

    private enum CodingKeys: String, CodingKey { case item, outputs }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        item = try container.decode(InferenceItem.self, forKey: .item)
        outputs = FiniteRows.decode(try container.decode([[Float?]].self, forKey: .outputs))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(item, forKey: .item)
        try container.encode(FiniteRows.encode(outputs), forKey: .outputs)
    }
}

/// `GET /v1/stats`: per model over a window.
public struct StatsResponse: Codable, Sendable, Equatable {
    public var windowSeconds: Int
    public var models: [ModelStats]

    public init(windowSeconds: Int, models: [ModelStats]) {
        self.windowSeconds = windowSeconds
        self.models = models
    }
}

public struct ModelStats: Codable, Sendable, Equatable {
    public var name: String
    public var count: Int
    public var errors: Int
    public var errorRate: Double
    public var latencyP50Micros: Int64?
    public var latencyP95Micros: Int64?
    public var latencyP99Micros: Int64?

    public init(name: String, count: Int, errors: Int, errorRate: Double, latencyP50Micros: Int64?, latencyP95Micros: Int64?,
                latencyP99Micros: Int64?) {
        self.name = name
        self.count = count
        self.errors = errors
        self.errorRate = errorRate
        self.latencyP50Micros = latencyP50Micros
        self.latencyP95Micros = latencyP95Micros
        self.latencyP99Micros = latencyP99Micros
    }
}
