/// The bit layout of a small binary floating-point format (FP8, FP16): sign, exponent, mantissa.
///
/// Encoders share one rounding core so FP8 and FP16 round identically: nearest, ties to even,
/// with gradual underflow. Overflow policy differs per format and is applied by the caller.
struct MinifloatLayout: Sendable {
    let exponentBits: Int
    let mantissaBits: Int
    let bias: Int

    /// Rounds a finite, non-negative Float32 (given as its bit pattern) to the nearest value of
    /// this layout, ties to even, as if the exponent range were unbounded above.
    ///
    /// Returns the magnitude code (exponent and mantissa fields, no sign). A result above the
    /// format's largest finite code means the value overflowed *after* rounding.
    func roundedMagnitudeCode(_ magnitudeBits: UInt32) -> UInt32 {
        let biasedExponent32 = Int(magnitudeBits >> 23)
        // Zero and Float32 subnormals (< 2^-126) lie far below half the smallest subnormal of
        // every layout used here (FP16: 2^-25), so they round to zero.
        if biasedExponent32 == 0 { return 0 }
        let exponent = biasedExponent32 - 127
        let significand = UInt64(magnitudeBits & 0x7F_FFFF) | 0x80_0000  // value = significand · 2^(exponent-23)
        let minNormalExponent = 1 - bias
        let quantumExponent = max(exponent, minNormalExponent) - mantissaBits
        let dropped = quantumExponent - (exponent - 23)
        // significand < 2^24 ≤ half a quantum: rounds to zero.
        if dropped >= 25 { return 0 }
        var quanta = significand >> UInt64(dropped)
        let remainder = significand & ((1 << UInt64(dropped)) - 1)
        let half: UInt64 = 1 << UInt64(dropped - 1)
        if remainder > half || (remainder == half && quanta & 1 == 1) { quanta += 1 }
        if exponent < minNormalExponent {
            // Subnormal: the code is the count of quanta; 2^mantissaBits quanta is the smallest normal.
            return UInt32(quanta)
        }
        // Normal: quanta ∈ [2^m, 2^(m+1)]; the upper end carries into the exponent field.
        return UInt32((exponent + bias) << mantissaBits) + UInt32(quanta) - (1 << UInt32(mantissaBits))
    }

    /// The exact value of a finite magnitude code (no sign bit).
    func finiteMagnitude(_ code: UInt32) -> Float {
        let exponentField = Int(code >> UInt32(mantissaBits)) & ((1 << exponentBits) - 1)
        let mantissaField = Float(code & ((1 << UInt32(mantissaBits)) - 1))
        if exponentField == 0 {
            return Float(sign: .plus, exponent: 1 - bias - mantissaBits, significand: mantissaField)
        }
        let fraction = mantissaField / Float(1 << mantissaBits)
        return Float(sign: .plus, exponent: exponentField - bias, significand: 1 + fraction)
    }
}
