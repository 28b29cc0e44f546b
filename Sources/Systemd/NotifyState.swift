/// One assignment of systemd's notification protocol (sd_notify(3)).
public enum NotifyState: Sendable, Equatable {
    /// Start-up is finished: for dlad, the API serves.
    case ready
    /// A reload (SIGHUP) began; send `.ready` when it is done.
    case reloading
    /// Shutdown began.
    case stopping
    /// One watchdog keep-alive.
    case watchdog
    /// A one-line status shown by `systemctl status`.
    case status(String)
    /// Asks for more time before the start, reload or stop timeout fires, counted from now.
    case extendTimeout(Duration)
    /// The errno-style reason for a failure, shown by `systemctl status`.
    case errno(Int32)
    /// The service's main process, when it is not the one notifying.
    case mainPID(Int32)

    /// The `NAME=value` line. A status keeps to one line (a newline would start another
    /// assignment), so newlines in it become spaces.
    public var assignment: String {
        switch self {
        case .ready: "READY=1"
        case .reloading: "RELOADING=1"
        case .stopping: "STOPPING=1"
        case .watchdog: "WATCHDOG=1"
        case .status(let text):
            "STATUS=" + String(text.map { $0.isNewline ? " " : $0 })
        case .extendTimeout(let duration): "EXTEND_TIMEOUT_USEC=\(Self.microseconds(duration))"
        case .errno(let code): "ERRNO=\(code)"
        case .mainPID(let pid): "MAINPID=\(pid)"
        }
    }

    /// Whole microseconds, never negative.
    static func microseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return 0 }
        return UInt64(seconds) * 1_000_000 + UInt64(attoseconds / 1_000_000_000_000)
    }
}
