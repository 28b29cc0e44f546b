/// The two 8-bit floating-point formats of the OCP FP8 specification, as ONNX names them.
///
/// The raw value is the on-disk tag used by the `.dla` container; never renumber.
public enum FP8Format: UInt8, Sendable, CaseIterable {
    /// 1 sign, 4 exponent, 3 mantissa bits, bias 7, max 448; no infinities; NaN is S.1111.111.
    case e4m3fn = 0
    /// 1 sign, 5 exponent, 2 mantissa bits, bias 15, max 57344; IEEE-style infinities and NaNs.
    case e5m2 = 1

    var layout: MinifloatLayout {
        switch self {
        case .e4m3fn: MinifloatLayout(exponentBits: 4, mantissaBits: 3, bias: 7)
        case .e5m2: MinifloatLayout(exponentBits: 5, mantissaBits: 2, bias: 15)
        }
    }

    /// Magnitude code of the largest finite value (0x7E = 448, 0x7B = 57344).
    public var maxFiniteCode: UInt8 {
        switch self {
        case .e4m3fn: 0x7E
        case .e5m2: 0x7B
        }
    }

    /// Magnitude code of the canonical NaN this library produces: E4M3FN's only NaN, and for
    /// E5M2 the quiet NaN a float32 quiet NaN truncates to (0x7E), which is what ONNX's
    /// reference cast (through ml_dtypes) writes.
    public var nanCode: UInt8 {
        switch self {
        case .e4m3fn: 0x7F
        case .e5m2: 0x7E
        }
    }
}

/// What an FP8 conversion does with values beyond the largest finite magnitude.
///
/// Mirrors ONNX `Cast`/`QuantizeLinear` `saturate=1` / `saturate=0`.
public enum FP8Overflow: Sendable {
    /// Out-of-range finite values and ±∞ become ±max finite; NaN stays NaN.
    case saturate
    /// Overflow becomes NaN in E4M3FN (it has no infinity) and ±∞ in E5M2.
    case nonSaturating
}
