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

/// The resources one model may claim on this box, in one place: the reader enforces the weights
/// and the operation count while parsing (`DLAReadOptions.limits`), the engine the activation
/// memory and the batch when it builds an executor and before each run (`Executor`'s `limits`).
/// Each check runs before the memory it guards is allocated, and its error names the limit and
/// the value that passed it. The defaults suit a Jetson AGX Xavier-class box (16–32 GB shared by
/// a few models): ample for the firmware models and an INT8 ResNet-50, far below what would
/// starve the rest of the system.
public struct DLAResourceLimits: Sendable, Hashable {
    /// Bytes of all decoded weight tensors of one model (sparse storage can expand a small file
    /// enormously; the reader also caps them at 4096 × the file size + 64 MiB).
    public var maxWeightBytes: Int
    /// Operations in one graph.
    public var maxOperations: Int
    /// Activation memory of one run: every live activation of every row of the batch, plus the
    /// convolutions' scratch (the executor's arena, or its bound on the general path).
    public var maxActivationBytes: Int
    /// Elements of one run's inputs: the batch × the elements of one sample, over all inputs.
    public var maxBatchInputElements: Int

    public init(maxWeightBytes: Int = 512 << 20, maxOperations: Int = 4096,
                maxActivationBytes: Int = 1 << 30, maxBatchInputElements: Int = 64 << 20) {
        self.maxWeightBytes = maxWeightBytes
        self.maxOperations = maxOperations
        self.maxActivationBytes = maxActivationBytes
        self.maxBatchInputElements = maxBatchInputElements
    }

}
