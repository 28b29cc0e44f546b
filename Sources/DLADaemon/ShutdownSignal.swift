import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SIGINT and SIGTERM, observed through dispatch sources instead of a handler running arbitrary
/// code. Install it first thing at start-up: a signal that arrives while the daemon is still
/// starting is kept and answered by `wait()`, never lost and never fatal.
///
/// `@unchecked`: the sources are set in `init` and only cancelled in `deinit`; all mutable state
/// is behind the mutex.
public final class ShutdownSignal: @unchecked Sendable {
    private let sources: [any DispatchSourceSignal]
    private let state = Mutex<State>(State())

    private struct State {
        var received: String?
        var waiter: CheckedContinuation<String, Never>?
    }

    public init() {
        let queue = DispatchQueue(label: "dlad.signals")
        var sources: [any DispatchSourceSignal] = []
        for (number, _) in Self.names {
            // Default delivery would kill the process: ignore it, the source still sees the signal.
            signal(number, SIG_IGN)
            sources.append(DispatchSource.makeSignalSource(signal: number, queue: queue))
        }
        self.sources = sources
        for (source, (_, name)) in zip(sources, Self.names) {
            source.setEventHandler { [weak self] in self?.deliver(name) }
            source.resume()
        }
    }

    private static let names: [(Int32, String)] = [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")]

    private func deliver(_ name: String) {
        let waiter = state.withLock { state -> CheckedContinuation<String, Never>? in
            guard state.received == nil else { return nil }
            state.received = name
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: name)
    }

    /// Returns the name of the first signal received, waiting for one if none has come yet.
    public func wait() async -> String {
        await withCheckedContinuation { continuation in
            let received = state.withLock { state -> String? in
                if state.received == nil { state.waiter = continuation }
                return state.received
            }
            if let received { continuation.resume(returning: received) }
        }
    }

    deinit { sources.forEach { $0.cancel() } }
}
