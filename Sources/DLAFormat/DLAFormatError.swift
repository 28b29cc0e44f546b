/// Every failure of reading, validating or writing a `.dla` file.
///
/// The description names the part of the file and, when known, the absolute byte offset,
/// e.g. `weights section: tensor 3 'fc1.weight': gap stream truncated at byte 48213`,
/// so a corrupt upload can be diagnosed from the log line alone.
public struct DLAFormatError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What went wrong, for callers that react differently (e.g. HTTP 400 vs 422).
    public enum Kind: String, Sendable, Equatable {
        case truncated
        case badMagic
        case unsupportedVersion
        case checksumMismatch
        case digestMismatch
        case malformed
        case limitExceeded
        case invalidGraph
        case invalidModel
        case signatureInvalid
        case signatureRequired
        case keyFile
    }

    public let kind: Kind
    /// The part of the file, e.g. "header", "section table", "metadata section", "weights section".
    public let section: String
    /// Absolute byte offset in the file where the problem was found, if it concerns file bytes.
    public let offset: Int?
    /// The item inside the section, e.g. "tensor 3 'fc1.weight'".
    public let context: String?
    public let message: String

    public init(_ kind: Kind, section: String, offset: Int? = nil, context: String? = nil, _ message: String) {
        self.kind = kind
        self.section = section
        self.offset = offset
        self.context = context
        self.message = message
    }

    public var description: String {
        var text = section
        if let context { text += ": \(context)" }
        text += ": \(message)"
        if let offset { text += " at byte \(offset)" }
        return text
    }

    /// The same error seen from inside an item of a section (adds or prefixes the context).
    func within(_ outer: String) -> DLAFormatError {
        DLAFormatError(kind, section: section, offset: offset,
                       context: context.map { "\(outer): \($0)" } ?? outer, message)
    }
}
