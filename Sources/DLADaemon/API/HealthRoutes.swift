import DLAAPI
import DLAStore

extension DaemonAPI {
    /// The daemon's own view of its health; the systemd watchdog is fed from the same facts.
    public func healthReport() async -> HealthResponse {
        let engines = pool.snapshot
        var reasons: [String] = []
        if engines.stuck > 0 { reasons.append("\(engines.stuck) engine core(s) stuck past a request deadline") }
        if let problem = supervisionProblem { reasons.append(problem) }
        let database = await databaseFacts()
        if let problem = database.problem { reasons.append("database: \(problem)") }
        let writable = database.problem == nil
        let bytes = database.bytes
        let models = database.models
        return HealthResponse(
            status: reasons.isEmpty ? "ok" : "degraded", reasons: reasons, version: DaemonVersion.current,
            uptimeSeconds: Double(monotonicNanoseconds() &- startedAt) / 1e9, models: models,
            inferencesServed: Int64(inferenceCount.load(ordering: .relaxed)),
            engines: EngineHealth(cores: engines.cores, busy: engines.busy, queued: engines.queued,
                                  queueCapacity: engines.queueCapacity, stuck: engines.stuck),
            database: DatabaseHealth(writable: writable, bytes: bytes))
    }

    /// Registry size and database bytes, read at most once a second: a monitoring loop polling
    /// /v1/health must not cost two database reads per poll. The watchdog's write probe is separate.
    private func databaseFacts() async -> DatabaseFacts {
        let now = monotonicNanoseconds()
        if let cached = databaseFactsCache.withLock({ $0 }), now &- cached.readAt < 1_000_000_000 { return cached }
        var facts = DatabaseFacts(readAt: now)
        do {
            facts.bytes = try await store.size().fileBytes
            facts.models = try await store.registry.models().count
        } catch {
            facts.problem = "\(error)"
        }
        databaseFactsCache.withLock { $0 = facts }
        return facts
    }

    func health() async -> APIResponse {
        .json(await healthReport())
    }

    func metricsText() async -> APIResponse {
        let engines = pool.snapshot
        let size = try? await store.size()
        let models = (try? await store.registry.models().count) ?? 0
        metrics.update(queued: engines.queued, busy: engines.busy, stuck: engines.stuck, models: models,
                       storeBytes: size?.fileBytes ?? 0, loadedVersions: catalog.loadedCount,
                       historyCommits: store.writerStatistics.groups, historyRows: store.writerStatistics.rows)
        return APIResponse(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")], body: metrics.exposition())
    }
}

struct DatabaseFacts: Sendable {
    var readAt: UInt64
    var bytes: Int64 = 0
    var models = 0
    var problem: String?
}
