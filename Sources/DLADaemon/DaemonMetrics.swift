import Prometheus
import Synchronization

/// The daemon's Prometheus metrics (`GET /metrics`), so that a fleet's existing Prometheus
/// scrapes every box. Names follow Prometheus conventions: `_total` counters, `_seconds`
/// histograms, base units.
public final class DaemonMetrics: Sendable {
    private let registry = PrometheusCollectorRegistry()
    private let queueDepth: Gauge
    private let busyCores: Gauge
    private let stuckCores: Gauge
    private let models: Gauge
    private let storeBytes: Gauge
    private let loadedVersions: Gauge
    private let rejected: Counter
    private let historyCommits: Counter
    private let historyRows: Counter
    /// The store's totals at the last update, so that each update adds only what is new.
    private let reportedHistory = Mutex<(commits: Int, rows: Int)>((0, 0))
    /// Labelled collectors by name and label values: the registry's own lookup builds the
    /// metric's name and a label key on every call, which the hot path should not pay per request
    /// (nor a joined string key: each request counts four collectors).
    private let counters = Mutex<[CollectorKey: Counter]>([:])
    private let histograms = Mutex<[CollectorKey: DurationHistogram]>([:])

    private struct CollectorKey: Hashable {
        let name: String
        let first: String
        let second: String
    }

    private typealias Label = (name: String, value: String)
    private static let latencyBuckets: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]

    public init() {
        queueDepth = registry.makeGauge(descriptor: Self.name("engine_queue_depth", "requests", "Requests waiting for an engine core."))
        busyCores = registry.makeGauge(descriptor: Self.name("engine_busy", "cores", "Engine cores running a batch."))
        stuckCores = registry.makeGauge(descriptor: Self.name("engine_stuck", "cores", "Engine cores past a request deadline."))
        models = registry.makeGauge(descriptor: Self.name("models", "", "Models in the registry."))
        storeBytes = registry.makeGauge(descriptor: Self.name("store_size", "bytes", "Size of the SQLite database file."))
        loadedVersions = registry.makeGauge(descriptor: Self.name("loaded_versions", "", "Model versions built for the engine."))
        rejected = registry.makeCounter(descriptor: Self.name("engine_rejected", "total", "Requests refused because the engine queue was full."))
        historyCommits = registry.makeCounter(descriptor: Self.name("history_commits", "total", "History transactions committed (one fsync each under durability=full)."))
        historyRows = registry.makeCounter(descriptor: Self.name("history_rows", "total", "History rows committed; rows / commits is the group commit's yield."))
    }

    private static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "dlad", metricName: metric, unitName: unit, helpText: help)
    }

    public func countRequest(route: String, status: Int, nanoseconds: UInt64? = nil) {
        counter("http_requests", "HTTP requests by route and status.", ("route", route), ("code", String(status))).increment()
        if let nanoseconds {
            histogram("http_request_duration", "Time to answer, by route.", ("route", route)).record(.nanoseconds(Int64(nanoseconds)))
        }
    }

    public func countInference(model: String, ok: Bool, nanoseconds: UInt64, count: Int?) {
        counter("inferences", "Inference requests by model and outcome.", ("model", model), ("status", ok ? "ok" : "error")).increment()
        if ok {
            histogram("inference_duration", "Inference latency in the daemon, history commit included.", ("model", model))
                .record(.nanoseconds(Int64(nanoseconds)))
        }
    }

    private func counter(_ name: String, _ help: String, _ first: Label, _ second: Label? = nil) -> Counter {
        let key = CollectorKey(name: name, first: first.value, second: second?.value ?? "")
        if let known = counters.withLock({ $0[key] }) { return known }
        let made = registry.makeCounter(descriptor: Self.name(name, "total", help), labels: [first] + (second.map { [$0] } ?? []))
        counters.withLock { $0[key] = made }
        return made
    }

    private func histogram(_ name: String, _ help: String, _ label: Label) -> DurationHistogram {
        let key = CollectorKey(name: name, first: label.value, second: "")
        if let known = histograms.withLock({ $0[key] }) { return known }
        let made = registry.makeDurationHistogram(descriptor: Self.name(name, "seconds", help), labels: [label],
                                                  buckets: Self.latencyBuckets.map { .nanoseconds(Int64($0 * 1e9)) })
        histograms.withLock { $0[key] = made }
        return made
    }

    public func countPush(result: String) {
        counter("model_pushes", "Model pushes by result (created, existing, refused).", ("result", result)).increment()
    }

    public func countRejected() { rejected.increment() }

    public func update(queued: Int, busy: Int, stuck: Int, models: Int, storeBytes: Int64, loadedVersions: Int,
                       historyCommits commits: Int, historyRows rows: Int) {
        let (newCommits, newRows) = reportedHistory.withLock { reported in
            defer { reported = (max(reported.commits, commits), max(reported.rows, rows)) }
            return (max(commits - reported.commits, 0), max(rows - reported.rows, 0))
        }
        historyCommits.increment(by: Int64(newCommits))
        historyRows.increment(by: Int64(newRows))
        queueDepth.set(Double(queued))
        busyCores.set(Double(busy))
        stuckCores.set(Double(stuck))
        self.models.set(Double(models))
        self.storeBytes.set(Double(storeBytes))
        self.loadedVersions.set(Double(loadedVersions))
    }

    public func exposition() -> [UInt8] { registry.emitToBuffer() }
}
