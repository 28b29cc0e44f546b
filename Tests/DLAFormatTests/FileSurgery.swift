@testable import DLAFormat

/// Edits `.dla` bytes the way an attacker or a bad disk would, optionally re-sealing the
/// checksums so that the edit reaches the parsers behind them.
enum FileSurgery {
    struct Section {
        let kind: UInt32
        let offset: Int
        let length: Int
        let entryOffset: Int
    }

    static func u32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
    }

    static func u64(_ bytes: [UInt8], at offset: Int) -> UInt64 {
        (0..<8).reduce(0) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
    }

    static func setU32(_ bytes: inout [UInt8], at offset: Int, _ value: UInt32) {
        for index in 0..<4 { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(index))) }
    }

    static func setU64(_ bytes: inout [UInt8], at offset: Int, _ value: UInt64) {
        for index in 0..<8 { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(index))) }
    }

    /// The section table of a well-formed file.
    static func sections(_ bytes: [UInt8]) -> [Section] {
        let count = Int(u32(bytes, at: 12))
        return (0..<count).map { index in
            let entry = DLAFileLayout.headerSize + index * DLAFileLayout.sectionEntrySize
            return Section(kind: u32(bytes, at: entry), offset: Int(u64(bytes, at: entry + 8)),
                           length: Int(u64(bytes, at: entry + 16)), entryOffset: entry)
        }
    }

    static func section(_ bytes: [UInt8], kind: DLASectionKind) -> Section? {
        sections(bytes).first { $0.kind == kind.rawValue }
    }

    /// Re-seals the checksums so that an edit reaches the parsers behind them.
    static func reseal(_ bytes: inout [UInt8]) {
        bytes = DLAFile.resealingChecksums(bytes)
    }
}
