#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A progress line on stderr for long loops: drawn only when stderr is a terminal (scripts and
/// logs stay clean) and only after the work has taken two seconds, redrawn at most five times a
/// second, and erased when the work is done.
struct Progress {
    private let label: String
    private let total: Int
    private let enabled = isatty(2) == 1
    private let start = ContinuousClock.now
    private var lastDrawn: ContinuousClock.Instant?

    init(_ label: String, total: Int) {
        self.label = label
        self.total = total
    }

    mutating func update(_ done: Int) {
        guard enabled else { return }
        let now = ContinuousClock.now
        guard now - start > .seconds(2), lastDrawn.map({ now - $0 > .milliseconds(200) }) ?? true else { return }
        lastDrawn = now
        let elapsed = Double((now - start).components.seconds) + Double((now - start).components.attoseconds) / 1e18
        let percent = total > 0 ? done * 100 / total : 100
        writeStandardError("\r\(label) \(done)/\(total) (\(percent) %) \(InspectReport.fixed(elapsed, 1)) s\u{1B}[K")
    }

    func finish() {
        if lastDrawn != nil { writeStandardError("\r\u{1B}[K") }
    }
}
