import Logging
import NIOCore
import Synchronization
import Systemd

/// What dlad tells systemd while it runs (docs/SYSTEMD.md): READY=1 once the API serves, a
/// STATUS= line when what it does changes, WATCHDOG=1 only while it is healthy, RELOADING=1 and
/// STOPPING=1 around reloads and shutdown. Outside systemd every notification is a no-op.
public final class Supervision: Sendable {
    private let notifier: SystemdNotifier
    private let daemon: Daemon
    private let logger: Logger
    private let tasks = Mutex<[Task<Void, Never>]>([])
    private let lastStatus = Mutex<String>("")

    public init(notifier: SystemdNotifier, daemon: Daemon, logger: Logger) {
        self.notifier = notifier
        self.daemon = daemon
        self.logger = logger
    }

    /// READY=1 with the first status, then the watchdog (when systemd asked for one) and the
    /// status line every few seconds.
    public func ready() async {
        let status = await statusLine()
        send([.ready, .status(status)])
        lastStatus.withLock { $0 = status }
        var started: [Task<Void, Never>] = []
        do {
            if let timeout = try Watchdog.timeout() {
                let daemon = self.daemon
                let logger = self.logger
                let pinger = WatchdogPinger(notifier: notifier, timeout: timeout) { await daemon.watchdogHealth() }
                logger.info("watchdog: pinging every \(pinger.pingInterval) while healthy")
                started.append(Task {
                    await pinger.run { event in
                        switch event {
                        case .pinging:
                            daemon.api.supervisionProblem = nil
                            logger.notice("watchdog: healthy again, pinging")
                        case .withheld(let reason):
                            daemon.api.supervisionProblem = "watchdog withheld: \(reason)"
                            logger.critical("watchdog: not pinging: \(reason)")
                        case .pingFailed(let error):
                            logger.error("watchdog: ping failed: \(error)")
                        }
                    }
                })
            }
        } catch {
            logger.error("watchdog: \(error); not pinging")
        }
        started.append(Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(5))
                let status = await statusLine()
                if lastStatus.withLock({ previous in
                    defer { previous = status }
                    return previous != status
                }) {
                    send([.status(status)])
                }
            }
        })
        tasks.withLock { $0 = started }
    }

    public func reloading() { send([.reloading, .status("reloading the configuration")]) }

    public func reloaded() async { send([.ready, .status(await statusLine())]) }

    public func stopping() {
        tasks.withLock { list in
            list.forEach { $0.cancel() }
            list.removeAll()
        }
        send([.stopping, .status("stopping: finishing requests in flight")])
    }

    /// "serving 4 models, 1,234 inferences, queue 0"
    func statusLine() async -> String {
        let report = await daemon.api.healthReport()
        var line = "serving \(report.models) model\(report.models == 1 ? "" : "s"), \(Self.grouped(report.inferencesServed)) inferences, queue \(report.engines.queued)"
        if report.status != "ok" { line += "; degraded: " + report.reasons.joined(separator: "; ") }
        return line
    }

    private func send(_ states: [NotifyState]) {
        do {
            try notifier.notify(states)
        } catch {
            logger.error("cannot notify systemd: \(error)")
        }
    }

    static func grouped(_ value: Int64) -> String {
        let digits = Array(String(value))
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return out
    }
}

extension Daemon {
    /// The watchdog's rule: the event loop answers, no engine core is stuck past a deadline,
    /// and the database takes a write lock.
    public func watchdogHealth() async -> WatchdogHealth {
        do {
            _ = try await eventLoop.submit { true }.get()
        } catch {
            return .unhealthy("the event loop does not answer: \(error)")
        }
        let engines = pool.snapshot
        if engines.stuck > 0 {
            return .unhealthy("\(engines.stuck) engine core\(engines.stuck == 1 ? "" : "s") stuck past a request deadline")
        }
        do {
            try await store.probeWritable()
        } catch {
            return .unhealthy("the database is not writable: \(error)")
        }
        return .healthy
    }
}
