/// Conversions between Float32 and the FP8 formats, bit-compatible with ONNX's reference
/// float8 cast (round to nearest even, overflow decided after rounding).
public enum FP8 {
    /// Encodes `x`, rounding to nearest, ties to even. NaN becomes `sign | nanCode` (0x7F in
    /// E4M3FN, 0x7E in E5M2); overflow (after rounding) and ±∞ follow `overflow`.
    public static func encode(_ x: Float, as format: FP8Format, overflow: FP8Overflow) -> UInt8 {
        let bits = x.bitPattern
        let sign = UInt8(truncatingIfNeeded: bits >> 24) & 0x80
        let magnitudeBits = bits & 0x7FFF_FFFF
        if magnitudeBits > 0x7F80_0000 { return sign | format.nanCode }
        if magnitudeBits == 0x7F80_0000 { return sign | overflowCode(format, overflow) }
        let code = format.layout.roundedMagnitudeCode(magnitudeBits)
        if code > UInt32(format.maxFiniteCode) { return sign | overflowCode(format, overflow) }
        return sign | UInt8(code)
    }

    /// The exact Float32 value of an FP8 code (every FP8 value is representable in Float32).
    public static func decode(_ code: UInt8, _ format: FP8Format) -> Float {
        switch format {
        case .e4m3fn: e4m3fnValues[Int(code)]
        case .e5m2: e5m2Values[Int(code)]
        }
    }

    /// The largest finite value: 448 for E4M3FN, 57344 for E5M2.
    public static func maxFinite(_ format: FP8Format) -> Float {
        decode(format.maxFiniteCode, format)
    }

    /// ONNX `QuantizeLinear` to an FP8 type (zero point 0): `x / scale` divided in Float32,
    /// then encoded. The division is deliberately not a multiplication by `1/scale`, which
    /// would round differently.
    public static func quantize(_ x: Float, scale: Float, as format: FP8Format, overflow: FP8Overflow) -> UInt8 {
        encode(x / scale, as: format, overflow: overflow)
    }

    /// ONNX `DequantizeLinear` from an FP8 type (zero point 0): `decode(code) * scale` in Float32.
    public static func dequantize(_ code: UInt8, scale: Float, _ format: FP8Format) -> Float {
        decode(code, format) * scale
    }

    private static func overflowCode(_ format: FP8Format, _ overflow: FP8Overflow) -> UInt8 {
        switch (format, overflow) {
        case (_, .saturate): format.maxFiniteCode
        case (.e4m3fn, .nonSaturating): format.nanCode
        case (.e5m2, .nonSaturating): 0x7C
        }
    }

    private static let e4m3fnValues: [Float] = (0...255).map { computeValue(UInt8($0), .e4m3fn) }
    private static let e5m2Values: [Float] = (0...255).map { computeValue(UInt8($0), .e5m2) }

    private static func computeValue(_ code: UInt8, _ format: FP8Format) -> Float {
        let magnitudeCode = code & 0x7F
        let negative = code & 0x80 != 0
        let magnitude: Float
        switch format {
        case .e4m3fn where magnitudeCode == 0x7F:
            magnitude = .nan
        case .e5m2 where magnitudeCode == 0x7C:
            magnitude = .infinity
        case .e5m2 where magnitudeCode > 0x7C:
            magnitude = .nan
        default:
            magnitude = format.layout.finiteMagnitude(UInt32(magnitudeCode))
        }
        return negative ? -magnitude : magnitude
    }
}
