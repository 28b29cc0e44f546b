/// Fixed numbers of the `.dla` layout; docs/FORMAT.md is the normative description.
enum DLAFileLayout {
    /// "\x89DLA\r\n\x1A\n": a non-ASCII first byte and line-ending bytes catch text-mode damage.
    static let magic: [UInt8] = [0x89, 0x44, 0x4C, 0x41, 0x0D, 0x0A, 0x1A, 0x0A]
    static let trailerMagic: [UInt8] = Array("DLA-TAIL".utf8)
    /// Signed message = this prefix followed by the 32-byte SHA-256 digest.
    static let signaturePrefix: [UInt8] = Array("DLA-SIGNATURE-V1".utf8)

    static let headerSize = 32
    static let sectionEntrySize = 32
    static let trailerSize = 152
    /// Sections, tensor payloads and the trailer start at multiples of this (a cache line,
    /// and enough for any SIMD load).
    static let alignment = 64
    static let maxSections = 16
}

/// The version of the format a file declares; a reader accepts any minor of its major.
public struct DLAFormatVersion: Sendable, Hashable, CustomStringConvertible, Comparable {
    public let major: UInt16
    public let minor: UInt16

    public init(major: UInt16, minor: UInt16) {
        self.major = major
        self.minor = minor
    }

    /// The version this library writes.
    public static let current = DLAFormatVersion(major: 1, minor: 0)

    public var description: String { "\(major).\(minor)" }

    public static func < (lhs: DLAFormatVersion, rhs: DLAFormatVersion) -> Bool {
        (lhs.major, lhs.minor) < (rhs.major, rhs.minor)
    }
}

/// Section kinds; the raw value is stored in the section table.
enum DLASectionKind: UInt32, CaseIterable {
    case metadata = 1
    case graph = 2
    case weights = 3
    case selfTests = 4

    var name: String {
        switch self {
        case .metadata: "metadata section"
        case .graph: "graph section"
        case .weights: "weights section"
        case .selfTests: "self-test section"
        }
    }
}
