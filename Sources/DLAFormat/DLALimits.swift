/// Hard caps and shared value checks. Caps exist so that no field of an untrusted file can
/// make the reader allocate or loop beyond what a real model needs.
enum DLALimits {
    static let maxRank = 8
    static let maxStringBytes = 1 << 20
    /// Largest element count of one activation tensor (elements, not bytes).
    static let maxActivationElements = 1 << 32

    /// Why `quantization` cannot describe a tensor of `dataType` and `shape`, or nil.
    static func quantizationProblem(_ quantization: DLAQuantization, dataType: DLADataType, shape: [Int64]) -> String? {
        func scaleProblem(_ scale: Float) -> String? {
            scale.isFinite && scale > 0 ? nil : "scale \(scale) must be finite and positive"
        }
        func zeroPointProblem(_ zeroPoint: Int32) -> String? {
            dataType.allowedZeroPoints.contains(zeroPoint)
                ? nil : "zero point \(zeroPoint) is outside \(dataType.allowedZeroPoints) allowed for \(dataType)"
        }
        switch quantization {
        case .none:
            return nil
        case .perTensor(let scale, let zeroPoint):
            return scaleProblem(scale) ?? zeroPointProblem(zeroPoint)
        case .perChannel(let axis, let scales, let zeroPoints):
            guard axis >= 0, axis < shape.count else { return "quantization axis \(axis) is outside the \(shape.count) dimensions" }
            guard shape[axis] >= 1, scales.count == shape[axis], zeroPoints.count == scales.count else {
                return "per-channel quantization has \(scales.count) scales and \(zeroPoints.count) zero points for dimension \(axis) of size \(shape[axis])"
            }
            for scale in scales { if let problem = scaleProblem(scale) { return problem } }
            for zeroPoint in zeroPoints { if let problem = zeroPointProblem(zeroPoint) { return problem } }
            return nil
        }
    }
}
