import CSystemd

/// The service watchdog systemd armed for this process (`WatchdogSec=` in the unit).
public enum Watchdog {
    /// `$WATCHDOG_USEC` through `sd_watchdog_enabled`: the time after which systemd kills the
    /// service unless it has pinged. Nil when no watchdog is set, or when `$WATCHDOG_PID` names
    /// another process. Ping at half of it (`WatchdogPinger` does).
    public static func timeout() throws(SystemdError) -> Duration? {
        var microseconds: UInt64 = 0
        let result = sd_watchdog_enabled(0, &microseconds)
        guard result >= 0 else { throw .invalidWatchdogEnvironment(errno: -result) }
        guard result > 0 else { return nil }
        return .microseconds(Int64(clamping: microseconds))
    }
}
