/// Integer rounding and saturation as NVDLA's data path performs them (CACC truncation, SDP
/// output converter): right shifts round half away from zero, results clamp to the output range.
public enum FixedPoint {
    /// `x / 2^shift` rounded half away from zero (`-5 >> 1 = -3`, `5 >> 1 = 3`).
    /// `shift` must be non-negative; shifts of 64 or more are exact too (the result is 0, or -1
    /// for `Int64.min >> 64`).
    public static func roundHalfAwayShiftRight(_ x: Int64, by shift: Int) -> Int64 {
        roundHalfAwayShiftRight(generic: x, by: shift)
    }

    /// Clamps `x` into `range`.
    public static func saturate(_ x: Int64, to range: ClosedRange<Int32>) -> Int32 {
        Int32(min(max(x, Int64(range.lowerBound)), Int64(range.upperBound)))
    }

    static func roundHalfAwayShiftRight<T: FixedWidthInteger & SignedInteger>(generic x: T, by shift: Int) -> T {
        precondition(shift >= 0, "negative shift \(shift)")
        if shift == 0 { return x }
        let magnitude = x.magnitude
        let roundedMagnitude: T.Magnitude
        if shift < T.bitWidth {
            // magnitude ≤ 2^(n-1) and half ≤ 2^(n-2): the sum cannot overflow, and the shifted
            // result is < 2^(n-1), so it fits T.
            let half: T.Magnitude = 1 << (shift - 1)
            roundedMagnitude = (magnitude + half) >> shift
        } else {
            // Only T.min reaches half of 2^n; everything else rounds to zero.
            roundedMagnitude = shift == T.bitWidth && magnitude == T.Magnitude(1) << (T.bitWidth - 1) ? 1 : 0
        }
        let result = T(roundedMagnitude)
        return x < 0 ? -result : result
    }
}
