/// IEEE 754 binary16 conversions written on bit patterns, so they behave identically on every
/// architecture (the stdlib `Float16` is missing on macOS x86_64 and its conversions are
/// hardware-dependent elsewhere).
public enum FP16 {
    private static let layout = MinifloatLayout(exponentBits: 5, mantissaBits: 10, bias: 15)

    /// Rounds to nearest, ties to even; overflow after rounding becomes ±∞. NaN stays a quiet
    /// NaN keeping the top payload bits, as hardware converters do.
    public static func encode(_ x: Float) -> UInt16 {
        let bits = x.bitPattern
        let sign = UInt16(truncatingIfNeeded: bits >> 16) & 0x8000
        let magnitudeBits = bits & 0x7FFF_FFFF
        if magnitudeBits > 0x7F80_0000 {
            return sign | 0x7E00 | UInt16(truncatingIfNeeded: magnitudeBits >> 13) & 0x03FF
        }
        let code = magnitudeBits == 0x7F80_0000 ? 0x7C00 : layout.roundedMagnitudeCode(magnitudeBits)
        return sign | (code >= 0x7C00 ? 0x7C00 : UInt16(code))
    }

    /// The exact Float32 value of a binary16 bit pattern.
    public static func decode(_ bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponentField = UInt32(bits >> 10) & 0x1F
        let mantissaField = UInt32(bits & 0x03FF)
        switch exponentField {
        case 0:
            let magnitude = Float(sign: .plus, exponent: -24, significand: Float(mantissaField))
            return sign == 0 ? magnitude : -magnitude
        case 0x1F:
            return Float(bitPattern: sign | 0x7F80_0000 | mantissaField << 13)
        default:
            return Float(bitPattern: sign | (exponentField + 112) << 23 | mantissaField << 13)
        }
    }
}
