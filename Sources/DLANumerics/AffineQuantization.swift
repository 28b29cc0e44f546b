/// ONNX `QuantizeLinear` / `DequantizeLinear` for INT8 and UINT8, bit-exact with the ONNX
/// reference evaluator and onnxruntime.
public enum AffineQuantization {
    /// `saturate(roundHalfEven(x / scale) + zeroPoint)`. The division is done in Float32 (not as
    /// a multiplication by a reciprocal) because that is what ONNX specifies; a different
    /// rounding there changes results at ties. NaN quantizes to `zeroPoint` (the value 0).
    public static func quantize(_ x: Float, scale: Float, zeroPoint: Int32, type: IntegerQuantType) -> Int32 {
        let rounded = (x / scale).rounded(.toNearestOrEven)
        let steps: Int64
        if rounded.isNaN {
            steps = 0
        } else {
            // Clamping first keeps the conversion defined; anything this far out saturates anyway.
            steps = Int64(min(max(rounded, -0x1p40), 0x1p40))
        }
        return FixedPoint.saturate(steps + Int64(zeroPoint), to: type.range)
    }

    /// `(q - zeroPoint) * scale` with the difference taken exactly and the product in Float32.
    public static func dequantize(_ q: Int32, scale: Float, zeroPoint: Int32) -> Float {
        Float(Int64(q) - Int64(zeroPoint)) * scale
    }
}
