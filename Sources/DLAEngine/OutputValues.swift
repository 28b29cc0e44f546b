import DLANumerics

extension EngineValue {
    /// The tensor's real values: integer codes dequantized with `spec`'s quantization
    /// (`(q − zero point)·scale`, as ONNX DequantizeLinear), FP16/FP8 values (held as
    /// `real / scale`) scaled back. What `dlactl run` writes and what dlad answers.
    public func realValues(as spec: ActivationSpec) -> [Float] {
        let scale = spec.quantization?.scale ?? 1
        let zeroPoint = spec.quantization?.zeroPoint ?? 0
        switch self {
        case .int8(let tensor):
            return tensor.scalars.map { AffineQuantization.dequantize(Int32($0), scale: scale, zeroPoint: zeroPoint) }
        case .int32(let tensor):
            return tensor.scalars.map { AffineQuantization.dequantize($0, scale: scale, zeroPoint: zeroPoint) }
        case .float32(let tensor) where spec.elementType == .float32 || scale == 1:
            return tensor.scalars
        case .float32(let tensor):
            return tensor.scalars.map { $0 * scale }
        }
    }
}
