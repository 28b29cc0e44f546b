/// Writes bit fields most-significant-bit first: the first field occupies the high bits of
/// the first byte. The final byte is padded with zero bits.
struct BitWriter {
    private(set) var bytes: [UInt8] = []
    private var accumulator: UInt64 = 0
    private var pendingBits = 0

    init(reservingBits bits: Int = 0) { bytes.reserveCapacity((bits + 7) / 8) }

    /// Appends the low `bits` bits of `value` (bits ≤ 32).
    mutating func write(_ value: UInt32, bits: Int) {
        accumulator = (accumulator << UInt64(bits)) | UInt64(value)
        pendingBits += bits
        while pendingBits >= 8 {
            pendingBits -= 8
            bytes.append(UInt8(truncatingIfNeeded: accumulator >> UInt64(pendingBits)))
        }
    }

    mutating func finish() -> [UInt8] {
        if pendingBits > 0 {
            bytes.append(UInt8(truncatingIfNeeded: accumulator << UInt64(8 - pendingBits)))
            pendingBits = 0
        }
        return bytes
    }
}

/// Reads MSB-first bit fields from a byte range, keeping up to 64 bits buffered so that a
/// symbol costs one peek and one shift.
struct BitReader {
    private let bytes: [UInt8]
    private var nextByte: Int
    private let end: Int
    /// Buffered bits, left-aligned (the next bit is bit 63).
    private var buffer: UInt64 = 0
    private(set) var bufferedBits = 0

    init(_ bytes: [UInt8], range: Range<Int>) {
        self.bytes = bytes
        self.nextByte = range.lowerBound
        self.end = range.upperBound
    }

    /// File offset of the byte holding the next unread bit.
    var byteOffset: Int { nextByte - bufferedBits / 8 - (bufferedBits % 8 == 0 ? 0 : 1) }

    @inline(__always)
    mutating func refill() {
        while bufferedBits <= 56 && nextByte < end {
            buffer |= UInt64(bytes[nextByte]) << UInt64(56 - bufferedBits)
            bufferedBits += 8
            nextByte += 1
        }
    }

    /// The next `bits` bits (1…32) without consuming them; missing bits read as zero.
    @inline(__always)
    func peek(_ bits: Int) -> UInt32 { UInt32(truncatingIfNeeded: buffer >> UInt64(64 - bits)) }

    @inline(__always)
    mutating func consume(_ bits: Int) {
        buffer <<= UInt64(bits)
        bufferedBits -= bits
    }

    /// True when only zero padding (< 8 bits) is left: the stream was exactly consumed.
    var isExhaustedWithZeroPadding: Bool { nextByte == end && bufferedBits < 8 && buffer == 0 }
}
