extension DLAFile {
    /// Recomputes every checksum that still has a well-defined range — the section CRCs, the
    /// header CRC and the trailer digest — and leaves every other byte as it is.
    ///
    /// Damage made this way gets past the checksums and reaches the parsers behind them, which
    /// is what fuzzers and corruption tests need: without it nearly every mutation dies at the
    /// first CRC. The result is still validated in full by `read`; resealing never makes a
    /// malformed file acceptable. Any signature is left untouched (and no longer verifies).
    public static func resealingChecksums(_ bytes: [UInt8]) -> [UInt8] {
        var bytes = bytes
        guard bytes.count >= DLAFileLayout.headerSize else { return bytes }
        let count = min(Int(u32(bytes, at: 12)), DLAFileLayout.maxSections)
        for index in 0..<count {
            let entry = DLAFileLayout.headerSize + index * DLAFileLayout.sectionEntrySize
            guard entry + DLAFileLayout.sectionEntrySize <= bytes.count else { break }
            let offset = u64(bytes, at: entry + 8), length = u64(bytes, at: entry + 16)
            guard offset <= UInt64(bytes.count), length <= UInt64(bytes.count) - offset else { continue }
            setU32(&bytes, at: entry + 24, CRC32C.checksum(bytes, range: Int(offset)..<Int(offset + length)))
        }
        setU32(&bytes, at: 28, CRC32C.checksum(bytes, range: 0..<28))
        let trailer = bytes.count - DLAFileLayout.trailerSize
        if trailer >= 0 {
            bytes.replaceSubrange(trailer + 8..<trailer + 40, with: sha256(bytes, upTo: trailer))
        }
        return bytes
    }

    private static func u32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
    }

    private static func u64(_ bytes: [UInt8], at offset: Int) -> UInt64 {
        (0..<8).reduce(0) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
    }

    private static func setU32(_ bytes: inout [UInt8], at offset: Int, _ value: UInt32) {
        for index in 0..<4 { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(index))) }
    }
}
