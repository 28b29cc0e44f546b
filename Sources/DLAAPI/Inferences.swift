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

    public init(id: Int64, time: String, model: String, version: Int, status: String, batchSize: Int, latencyMicros: Int64,
                cycles: Int64, energyMicrojoules: Double, top1: [TopClass], clientUid: UInt32, inputSha256: String) {
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
