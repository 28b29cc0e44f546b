/// What firmware descriptor decoding rejects. Descriptors come from loadables that may be hostile:
/// every length, index and enumeration is checked and each case names the field.
public enum FirmwareDescriptorError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `what` needs `needed` bytes from offset `offset` of a region holding `available`.
    case truncated(what: String, offset: Int, needed: Int, available: Int)
    /// A field holds a value the firmware would reject.
    case invalidField(what: String, found: String, expected: String)
    /// A valid descriptor asks for something this emulator does not model.
    case unsupported(what: String)

    public var description: String {
        switch self {
        case let .truncated(what, offset, needed, available):
            "\(what): needs \(needed) bytes at offset \(offset), region holds \(available)"
        case let .invalidField(what, found, expected):
            "\(what): found \(found), expected \(expected)"
        case let .unsupported(what):
            "unsupported: \(what)"
        }
    }
}
