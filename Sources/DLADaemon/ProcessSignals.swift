import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// SIGINT, SIGTERM and SIGHUP as an async sequence, observed through dispatch sources instead
/// of a handler running arbitrary code. Create it first thing at start-up: a signal that arrives
/// while the daemon is still starting is buffered, never lost and never fatal.
///
/// `@unchecked`: the sources are set in `init` and only cancelled in `deinit`.
public final class ProcessSignals: @unchecked Sendable {
    public enum Signal: String, Sendable {
        case interrupt = "SIGINT"
        case terminate = "SIGTERM"
        case hangUp = "SIGHUP"

        var number: Int32 {
            switch self {
            case .interrupt: SIGINT
            case .terminate: SIGTERM
            case .hangUp: SIGHUP
            }
        }
    }

    public let events: AsyncStream<Signal>
    private let sources: [any DispatchSourceSignal]

    public init() {
        let (stream, continuation) = AsyncStream<Signal>.makeStream()
        events = stream
        let queue = DispatchQueue(label: "dlad.signals")
        var sources: [any DispatchSourceSignal] = []
        for kind in [Signal.interrupt, .terminate, .hangUp] {
            // Default delivery would kill the process: ignore it, the source still sees the signal.
            signal(kind.number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: kind.number, queue: queue)
            source.setEventHandler { continuation.yield(kind) }
            source.resume()
            sources.append(source)
        }
        self.sources = sources
    }

    deinit { sources.forEach { $0.cancel() } }
}
