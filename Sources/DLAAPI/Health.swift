/// `GET /v1/health`: whether the daemon can do its work, and if not, why.
public struct HealthResponse: Codable, Sendable, Equatable {
    /// "ok" or "degraded".
    public var status: String
    /// Why the status is "degraded"; empty when "ok".
    public var reasons: [String]
    public var version: String
    public var uptimeSeconds: Double
    public var models: Int
    /// Inferences answered since the daemon started.
    public var inferencesServed: Int64
    public var engines: EngineHealth
    public var database: DatabaseHealth

    public init(status: String, reasons: [String], version: String, uptimeSeconds: Double, models: Int,
                inferencesServed: Int64, engines: EngineHealth, database: DatabaseHealth) {
        self.status = status
        self.reasons = reasons
        self.version = version
        self.uptimeSeconds = uptimeSeconds
        self.models = models
        self.inferencesServed = inferencesServed
        self.engines = engines
        self.database = database
    }
}

public struct EngineHealth: Codable, Sendable, Equatable {
    /// Emulated DLA cores (engine workers).
    public var cores: Int
    /// Workers running a batch now.
    public var busy: Int
    /// Requests waiting for a worker.
    public var queued: Int
    public var queueCapacity: Int
    /// Workers whose current batch has run past its deadline.
    public var stuck: Int

    public init(cores: Int, busy: Int, queued: Int, queueCapacity: Int, stuck: Int) {
        self.cores = cores
        self.busy = busy
        self.queued = queued
        self.queueCapacity = queueCapacity
        self.stuck = stuck
    }
}

public struct DatabaseHealth: Codable, Sendable, Equatable {
    public var writable: Bool
    public var bytes: Int64

    public init(writable: Bool, bytes: Int64) {
        self.writable = writable
        self.bytes = bytes
    }
}
