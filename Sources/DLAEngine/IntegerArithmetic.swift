import CDLAKernels

/// Inlinable twins of DLANumerics' rounding for the per-element loops of SDP and CACC (a call
/// across the module boundary per element costs more than the arithmetic). Tests check they agree
/// with `FixedPoint` bit for bit.
enum IntegerArithmetic {
    /// `x / 2^shift` rounded half away from zero, for shift 0...63 and every Int64 `x`: the
    /// magnitude plus half stays below 2^64, and the result below 2^63.
    @inline(__always)
    static func roundHalfAwayShiftRight(_ x: Int64, by shift: Int) -> Int64 {
        if shift == 0 { return x }
        let magnitude = (x.magnitude + (UInt64(1) << UInt64(shift - 1))) >> UInt64(shift)
        return x < 0 ? -Int64(magnitude) : Int64(magnitude)
    }

    /// Saturation of a wide value to INT32.
    @inline(__always)
    static func saturateToInt32(_ x: Int64) -> Int32 { Int32(clamping: x) }

    /// Number of nonzero values (activation density).
    static func nonzeroCount(_ values: [Int8]) -> Int {
        values.withUnsafeBufferPointer { Int(dla_count_nonzero_s8(Int64($0.count), $0.baseAddress)) }
    }
}
