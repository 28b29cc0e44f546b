import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Waits for SIGINT or SIGTERM without a signal handler running arbitrary code: the signals are
/// ignored for default delivery and observed through dispatch sources instead.
public enum ShutdownSignal {
    public static func wait() async -> String {
        await withCheckedContinuation { continuation in
            let queue = DispatchQueue(label: "dlad.signals")
            let once = Once()
            var sources: [DispatchSourceSignal] = []
            for (number, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
                source.setEventHandler {
                    if once.claim() {
                        sources.forEach { $0.cancel() }
                        continuation.resume(returning: name)
                    }
                }
                source.resume()
                sources.append(source)
            }
        }
    }
}

/// A flag that lets exactly one of several handlers on one serial queue proceed.
private final class Once: @unchecked Sendable {
    private var claimed = false
    func claim() -> Bool {
        if claimed { return false }
        claimed = true
        return true
    }
}
