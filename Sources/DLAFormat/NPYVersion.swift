/// `.npy` format versions. They differ only in the width of the header-length field (2 bytes
/// for 1.0, 4 bytes after) and the header text encoding (Latin-1 before 3.0, UTF-8 in 3.0).
public enum NPYVersion: Sendable, CaseIterable, Equatable {
    case v1_0
    case v2_0
    case v3_0

    var major: UInt8 {
        switch self {
        case .v1_0: 1
        case .v2_0: 2
        case .v3_0: 3
        }
    }

    /// Bytes of the little-endian header-length field after the magic and version.
    var lengthFieldSize: Int { self == .v1_0 ? 2 : 4 }

    init?(major: UInt8, minor: UInt8) {
        guard minor == 0 else { return nil }
        switch major {
        case 1: self = .v1_0
        case 2: self = .v2_0
        case 3: self = .v3_0
        default: return nil
        }
    }
}
