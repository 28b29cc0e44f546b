import DLAAPI
import DLAStore

extension DaemonAPI {
    /// The daemon's own view of its health; the systemd watchdog is fed from the same facts.
    public func healthReport() async -> HealthResponse {
        let engines = pool.snapshot
        var reasons: [String] = []
        if engines.stuck > 0 { reasons.append("\(engines.stuck) engine core(s) stuck past a request deadline") }
        if let problem = supervisionProblem { reasons.append(problem) }
        var writable = true
        var bytes: Int64 = 0
        do {
            bytes = try await store.size().fileBytes
        } catch {
            writable = false
            reasons.append("database: \(error)")
        }
        var models = 0
        do {
            models = try await store.registry.models().count
        } catch {
            writable = false
            if reasons.isEmpty { reasons.append("database: \(error)") }
        }
        return HealthResponse(
            status: reasons.isEmpty ? "ok" : "degraded", reasons: reasons, version: DaemonVersion.current,
            uptimeSeconds: Double(monotonicNanoseconds() &- startedAt) / 1e9, models: models,
            inferencesServed: Int64(inferenceCount.load(ordering: .relaxed)),
            engines: EngineHealth(cores: engines.cores, busy: engines.busy, queued: engines.queued,
                                  queueCapacity: engines.queueCapacity, stuck: engines.stuck),
            database: DatabaseHealth(writable: writable, bytes: bytes))
    }

    func health() async -> APIResponse {
        .json(await healthReport())
    }

    func metricsText() async -> APIResponse {
        let engines = pool.snapshot
        let size = try? await store.size()
        let models = (try? await store.registry.models().count) ?? 0
        metrics.update(queued: engines.queued, busy: engines.busy, stuck: engines.stuck, models: models,
                       storeBytes: size?.fileBytes ?? 0, loadedVersions: catalog.loadedCount)
        return APIResponse(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")], body: metrics.exposition())
    }
}

public enum DaemonVersion {
    public static let current = "0.3.0"
}
