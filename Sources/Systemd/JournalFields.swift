import Logging

/// One journal field: `NAME=value`.
public struct JournalField: Sendable, Equatable, CustomStringConvertible {
    public let name: String
    public let value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    public var description: String { "\(name)=\(value)" }
}

/// How a log event becomes journal fields. Pure, so that the mapping is tested without journald.
public enum JournalFields {
    /// Fields this module sets itself; a metadata key that maps onto one gets a `META_` prefix
    /// rather than a second value under the same name.
    public static let reservedNames: Set<String> = [
        "MESSAGE", "PRIORITY", "CODE_FILE", "CODE_LINE", "CODE_FUNC", "SYSLOG_IDENTIFIER",
        "LOGGER", "SOURCE", "ERROR",
    ]

    /// journald's limit on a field name's length.
    public static let maximumNameLength = 64

    /// A metadata key as a journal field name, which journald accepts only as uppercase ASCII
    /// letters, digits and underscores, not starting with a digit or an underscore (those name
    /// trusted fields), at most 64 characters. camelCase words are split: `requestID`,
    /// `request-id` and `request_id` all become `REQUEST_ID`. A key with nothing usable becomes
    /// `FIELD`; a digit at the start gets a `FIELD_` prefix.
    public static func fieldName(forMetadataKey key: String) -> String {
        var name = ""
        var previous: Character?
        for character in key {
            if character.isASCII, character.isUppercase, let previous,
               previous.isASCII, previous.isLowercase || previous.isNumber {
                name.append("_")
            }
            if character.isASCII, character.isLetter || character.isNumber {
                name.append(character.uppercased())
            } else {
                name.append("_")
            }
            previous = character
        }
        name = String(name.drop { $0 == "_" })
        if name.isEmpty { name = "FIELD" }
        if let first = name.first, first.isNumber { name = "FIELD_" + name }
        if reservedNames.contains(name) { name = "META_" + name }
        return String(name.prefix(maximumNameLength))
    }

    /// syslog's priority for a swift-log level (journalctl's `-p`).
    public static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// The fields of one event: the message, its priority and source location, the identifier
    /// `journalctl -t` filters on, the logger's label, an attached error, then the metadata
    /// sorted by key.
    public static func fields(
        for event: LogEvent,
        label: String,
        identifier: String,
        metadata: Logger.Metadata
    ) -> [JournalField] {
        var fields = [
            JournalField(name: "MESSAGE", value: event.message.description),
            JournalField(name: "PRIORITY", value: String(priority(event.level))),
            JournalField(name: "CODE_FILE", value: event.file),
            JournalField(name: "CODE_LINE", value: String(event.line)),
            JournalField(name: "CODE_FUNC", value: event.function),
            JournalField(name: "SYSLOG_IDENTIFIER", value: identifier),
            JournalField(name: "LOGGER", value: label),
        ]
        if let error = event.error {
            fields.append(JournalField(name: "ERROR", value: String(describing: error)))
        }
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            fields.append(JournalField(name: fieldName(forMetadataKey: key), value: value.description))
        }
        return fields
    }
}
