/// Every failure of reading an NVDLA loadable or a `.dimg` image.
///
/// The description names the field (a path such as `memory_list[3].contents[0]`) and, when the
/// problem concerns file bytes, the absolute byte offset, so a rejected push can be diagnosed
/// from its log line alone.
public struct NVDLALoadableError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What went wrong, for callers that react differently.
    public enum Kind: String, Sendable, Equatable {
        /// A length, offset or table reaches past the end of the file.
        case truncated
        /// The bytes break the flatbuffers (or `.dimg`) layout: misaligned, bad vtable, no terminator.
        case malformed
        /// The layout is sound but a value breaks the loadable's rules (unknown blob, bad id, …).
        case invalid
        /// The file is within the format but beyond what this reader accepts (sizes, budgets).
        case limitExceeded
        /// A valid value that NVIDIA's own code cannot process either (e.g. a `.dimg` format
        /// without an address layout).
        case unsupported
    }

    public let kind: Kind
    /// The field or part of the file, e.g. `loadable.memory_list[3].size` or `dimg header`.
    public let field: String
    /// Absolute byte offset in the file where the problem was found, if it concerns file bytes.
    public let offset: Int?
    public let message: String

    public init(_ kind: Kind, field: String, offset: Int? = nil, _ message: String) {
        self.kind = kind
        self.field = field
        self.offset = offset
        self.message = message
    }

    public var description: String {
        var text = "\(field): \(message)"
        if let offset { text += " at byte \(offset)" }
        return text
    }
}
