#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CSystemd
import Logging
import Synchronization

/// A swift-log handler that writes structured journal entries under systemd, so that an operator
/// filters with `journalctl -u dlad MODEL=lenet5 PRIORITY=3`, and plain text elsewhere.
///
///     LoggingSystem.bootstrap { JournalLogHandler(label: $0, identifier: "dlad") }
public struct JournalLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    public let label: String
    /// `SYSLOG_IDENTIFIER`, what `journalctl -t` matches.
    public let identifier: String
    public let destination: LogDestination

    public init(
        label: String,
        identifier: String,
        destination: LogDestination = .automatic(),
        metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider
    ) {
        self.label = label
        self.identifier = identifier
        self.destination = destination
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = mergedMetadata(event.metadata)
        switch destination {
        case .journal:
            // An entry journald refused still reaches stderr. (libsystemd drops entries silently
            // when the journal socket does not exist.)
            if !Self.sendToJournal(JournalFields.fields(for: event, label: label, identifier: identifier, metadata: merged)) {
                Self.writeLine(PlainTextLog.line(for: event, label: label, metadata: merged, time: .now()), to: STDERR_FILENO)
            }
        case .fileDescriptor(let descriptor):
            Self.writeLine(PlainTextLog.line(for: event, label: label, metadata: merged, time: .now()), to: descriptor)
        }
    }

    /// The handler's metadata, then the provider's, then the event's: later ones win.
    private func mergedMetadata(_ eventMetadata: Logger.Metadata?) -> Logger.Metadata {
        var merged = metadata
        if let provided = metadataProvider?.get() {
            merged.merge(provided) { _, new in new }
        }
        if let eventMetadata {
            merged.merge(eventMetadata) { _, new in new }
        }
        return merged
    }

    /// One `sd_journal_sendv` call, all fields in one buffer. False when journald did not take it.
    static func sendToJournal(_ fields: [JournalField]) -> Bool {
        var buffer: [UInt8] = []
        var ranges: [Range<Int>] = []
        for field in fields {
            let start = buffer.count
            buffer.append(contentsOf: field.description.utf8)
            ranges.append(start..<buffer.count)
        }
        return buffer.withUnsafeMutableBytes { bytes in
            var vectors = ranges.map { range in
                iovec(iov_base: bytes.baseAddress! + range.lowerBound, iov_len: range.count)
            }
            return sd_journal_sendv(&vectors, Int32(vectors.count)) >= 0
        }
    }

    /// Lines from concurrent loggers never interleave.
    private static let writeLock = Mutex(())

    static func writeLine(_ line: String, to descriptor: Int32) {
        let bytes = Array((line + "\n").utf8)
        writeLock.withLock { _ in
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return }
                offset += written
            }
        }
    }
}

/// The text form of an event, for stderr outside the journal.
public enum PlainTextLog {
    /// `2026-12-07T06:41:02.123Z warning dlad.api: message key=value …`, metadata sorted by key,
    /// an attached error last.
    public static func line(for event: LogEvent, label: String, metadata: Logger.Metadata, time: UTCTime) -> String {
        var line = "\(time.iso8601) \(event.level) \(label): \(event.message)"
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            line += " \(key)=\(value)"
        }
        if let error = event.error {
            line += " error=\(error)"
        }
        return String(line.map { $0.isNewline ? " " : $0 })
    }
}

/// A wall-clock time to the millisecond, without Foundation.
public struct UTCTime: Sendable, Equatable {
    public let secondsSinceEpoch: Int
    public let milliseconds: Int

    public init(secondsSinceEpoch: Int, milliseconds: Int) {
        self.secondsSinceEpoch = secondsSinceEpoch
        self.milliseconds = milliseconds
    }

    public static func now() -> UTCTime {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return UTCTime(secondsSinceEpoch: time.tv_sec, milliseconds: time.tv_nsec / 1_000_000)
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    public var iso8601: String {
        var seconds = time_t(secondsSinceEpoch)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func padded(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(padded(parts.tm_year + 1900, 4))-\(padded(parts.tm_mon + 1, 2))-\(padded(parts.tm_mday, 2))"
            + "T\(padded(parts.tm_hour, 2)):\(padded(parts.tm_min, 2)):\(padded(parts.tm_sec, 2))"
            + ".\(padded(Int32(milliseconds), 3))Z"
    }
}
