#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Times are stored as integer microseconds since the Unix epoch: exact, compact and ordered.
/// Dates and durations come from clients, so the conversions refuse what Int64 microseconds
/// cannot hold (NaN, ±infinity, beyond ±292,000 years) instead of trapping.
extension Date {
    /// This date in microseconds since the epoch; `what` names it in the error.
    func unixMicroseconds(_ what: String) throws(DLAStoreError) -> Int64 {
        let micros = (timeIntervalSince1970 * 1_000_000).rounded()
        // 2^63 is exactly representable; every Double below it converts.
        guard micros.isFinite, micros >= -0x1p63, micros < 0x1p63 else {
            throw .invalidArgument("\(what): expected a date within ±292,000 years of 1970, found \(timeIntervalSince1970) s since 1970")
        }
        return Int64(micros)
    }

    init(unixMicroseconds: Int64) {
        self.init(timeIntervalSince1970: Double(unixMicroseconds) / 1_000_000)
    }
}

extension Duration {
    /// This duration in whole microseconds (attoseconds truncated); `what` names it in the error.
    func microseconds(_ what: String) throws(DLAStoreError) -> Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000)
        let (total, overflowSum) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000_000)
        guard !overflow, !overflowSum else {
            throw .invalidArgument("\(what): expected a duration within ±292,000 years, found \(seconds) s")
        }
        return total
    }
}

/// `now − window` in microseconds, refused when it leaves Int64 (a window reaching past the
/// year −290,000 is a client's mistake, not a request for everything).
func microseconds(_ now: Date, minus window: Duration, _ what: String) throws(DLAStoreError) -> Int64 {
    let (start, overflow) = try now.unixMicroseconds("\(what) end").subtractingReportingOverflow(try window.microseconds(what))
    guard !overflow else { throw .invalidArgument("\(what): the window \(window) reaches before the earliest representable time") }
    return start
}
