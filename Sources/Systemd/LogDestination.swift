#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where `JournalLogHandler` writes.
public enum LogDestination: Sendable, Equatable {
    /// Native journal entries (`sd_journal_sendv`) with structured fields.
    case journal
    /// One plain-text line per event on this file descriptor.
    case fileDescriptor(Int32)

    /// The journal when systemd connected stderr to it, plain text on stderr otherwise
    /// (a terminal, a pipe, a file, or stderr redirected by someone after systemd started us).
    public static func automatic() -> LogDestination {
        var status = stat()
        let journalStream = getenv("JOURNAL_STREAM").map { String(cString: $0) }
        guard fstat(STDERR_FILENO, &status) == 0,
              isJournalStream(journalStream, device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
        else { return .fileDescriptor(STDERR_FILENO) }
        return .journal
    }

    /// Whether `$JOURNAL_STREAM` ("device:inode", in decimal) names this file: systemd sets it
    /// for a service whose stdout or stderr goes to the journal.
    public static func isJournalStream(_ journalStream: String?, device: UInt64, inode: UInt64) -> Bool {
        guard let parts = journalStream?.split(separator: ":", omittingEmptySubsequences: false),
              parts.count == 2,
              let streamDevice = UInt64(parts[0]), let streamInode = UInt64(parts[1])
        else { return false }
        return streamDevice == device && streamInode == inode
    }
}
