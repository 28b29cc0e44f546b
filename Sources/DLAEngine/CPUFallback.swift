#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CDLAKernels
import DLANumerics

/// Operations the accelerator lacks, run on the host CPU in FP32. Stats attribute their time to
/// the CPU (`Unit.cpu`), so `inspect` and `--stats` show what left the accelerator.
public enum CPUFallback {
    /// Softmax over the last axis, max-subtracted for range safety.
    public static func softmax(_ x: Tensor<Float>) throws(EngineError) -> Tensor<Float> {
        guard let last = x.shape.last, last > 0 else {
            throw .invalidParameter(name: "softmax input", expected: "a non-empty last axis", found: "\(x.shape)")
        }
        var out = x.scalars
        for row in stride(from: 0, to: out.count, by: last) {
            let values = out[row..<(row + last)]
            let peak = values.max() ?? 0
            var total: Float = 0
            for i in row..<(row + last) {
                out[i] = expf(out[i] - peak)
                total += out[i]
            }
            for i in row..<(row + last) { out[i] /= total }
        }
        return try Tensor(shape: x.shape, scalars: out)
    }

    /// Real values of affine-quantized INT8: `(q − zeroPoint)·scale`.
    public static func dequantize(_ q: Tensor<Int8>, scale: Float, zeroPoint: Int32) throws(EngineError) -> Tensor<Float> {
        try Tensor(shape: q.shape, scalars: q.scalars.map { AffineQuantization.dequantize(Int32($0), scale: scale, zeroPoint: zeroPoint) })
    }

    /// The input converter: FP32 to affine INT8 (ONNX QuantizeLinear: `roundHalfEven(x/scale) + zeroPoint`, saturated).
    /// Runs in C (`dla_quantize_f32_s8`), bit-identical to DLANumerics' `AffineQuantization.quantize` (tested).
    public static func quantize(_ x: Tensor<Float>, scale: Float, zeroPoint: Int32) throws(EngineError) -> Tensor<Int8> {
        let codes = x.scalars.withUnsafeBufferPointer { source in
            [Int8](unsafeUninitializedCapacity: source.count) { target, initialized in
                if let base = target.baseAddress {
                    quantize(source, scale: scale, zeroPoint: zeroPoint, into: base)
                }
                initialized = source.count
            }
        }
        return try Tensor(shape: x.shape, scalars: codes)
    }

    /// The input converter into a caller's buffer of `x.count` codes.
    static func quantize(_ x: UnsafeBufferPointer<Float>, scale: Float, zeroPoint: Int32, into codes: UnsafeMutablePointer<Int8>) {
        let range = IntegerQuantType.int8.range
        dla_quantize_f32_s8(Int64(x.count), x.baseAddress, scale, zeroPoint, range.lowerBound, range.upperBound, codes)
    }
}
