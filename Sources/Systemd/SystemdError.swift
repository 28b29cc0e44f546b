#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What went wrong talking to systemd; `errno` values are the C library's.
public enum SystemdError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `$NOTIFY_SOCKET` is longer than a UNIX socket address can hold.
    case notifySocketPathTooLong(String)
    /// Creating the datagram socket or sending the notification failed.
    case notifyFailed(socketPath: String, errno: Int32)
    /// `sd_watchdog_enabled` rejected `$WATCHDOG_USEC` or `$WATCHDOG_PID`.
    case invalidWatchdogEnvironment(errno: Int32)
    /// `sd_listen_fds_with_names` rejected `$LISTEN_FDS`, `$LISTEN_PID` or `$LISTEN_FDNAMES`.
    case invalidListenEnvironment(errno: Int32)

    public var description: String {
        switch self {
        case .notifySocketPathTooLong(let path):
            "NOTIFY_SOCKET is too long for a UNIX socket address (\(path.utf8.count) bytes): \(path)"
        case .notifyFailed(let path, let code):
            "cannot notify systemd at \(path): \(Self.message(code))"
        case .invalidWatchdogEnvironment(let code):
            "invalid WATCHDOG_USEC/WATCHDOG_PID: \(Self.message(code))"
        case .invalidListenEnvironment(let code):
            "invalid LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES: \(Self.message(code))"
        }
    }

    static func message(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}
