import Synchronization

/// The answer of a health check: whether the service may tell systemd it is alive.
public enum WatchdogHealth: Sendable, Equatable {
    case healthy
    /// Why not, in words for the journal and the health endpoint ("engine 2 stuck for 41 s").
    case unhealthy(String)
}

/// Pings the systemd watchdog at half of its timeout, but only while a health check passes.
/// A process whose event loop answers but whose work is stuck must not ping: systemd then
/// restarts it once the timeout passes without a ping.
///
/// Every period starts one check (unless the last one is still running) and judges it when the
/// period ends: a check that has not answered by then counts as unhealthy, so a check that
/// hangs stops the pings too. Health that comes back resumes them.
public struct WatchdogPinger: Sendable {
    /// A change in what the pinger does, reported once per change.
    public enum Event: Sendable, Equatable {
        /// Pinging (again).
        case pinging
        /// Not pinging, and why.
        case withheld(reason: String)
        /// The check passed but the ping could not be sent.
        case pingFailed(SystemdError)
    }

    public let notifier: SystemdNotifier
    /// systemd's `WatchdogSec=` (`Watchdog.timeout()`).
    public let timeout: Duration
    private let healthCheck: @Sendable () async -> WatchdogHealth

    public init(
        notifier: SystemdNotifier,
        timeout: Duration,
        healthCheck: @escaping @Sendable () async -> WatchdogHealth
    ) {
        self.notifier = notifier
        self.timeout = timeout
        self.healthCheck = healthCheck
    }

    /// Half of the timeout: a single late ping never trips the watchdog.
    public var pingInterval: Duration { timeout / 2 }

    /// Checks and pings until the calling task is cancelled; cancels a running check on the way out.
    public func run(onEvent: @Sendable (Event) -> Void = { _ in }) async {
        let slot = HealthCheckSlot()
        var check: Task<Void, Never>?
        defer { check?.cancel() }
        var lastEvent: Event?
        let clock = ContinuousClock()
        var deadline = clock.now
        while true {
            if slot.startIfIdle() {
                check = Task { [healthCheck] in slot.finish(await healthCheck()) }
            }
            deadline += pingInterval
            do { try await clock.sleep(until: deadline) } catch { return }
            let verdict = slot.takeResult()
                ?? .unhealthy("the health check did not answer within \(Self.milliseconds(pingInterval)) ms")
            let event: Event
            switch verdict {
            case .healthy:
                do {
                    try notifier.notify(.watchdog)
                    event = .pinging
                } catch {
                    event = .pingFailed(error)
                }
            case .unhealthy(let reason):
                event = .withheld(reason: reason)
            }
            if event != lastEvent {
                onEvent(event)
                lastEvent = event
            }
        }
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

/// The one health check in flight and its answer, shared with the task that runs it.
private final class HealthCheckSlot: Sendable {
    private struct State {
        var running = false
        var result: WatchdogHealth?
    }

    private let state = Mutex(State())

    /// Marks a check as running, unless one already is.
    func startIfIdle() -> Bool {
        state.withLock { state in
            guard !state.running else { return false }
            state.running = true
            return true
        }
    }

    func finish(_ result: WatchdogHealth) {
        state.withLock { state in
            state.running = false
            state.result = result
        }
    }

    func takeResult() -> WatchdogHealth? {
        state.withLock { state in
            defer { state.result = nil }
            return state.result
        }
    }
}
