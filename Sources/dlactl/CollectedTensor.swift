import DLAEngine
import DLAFormat

/// One tensor's values gathered batch by batch, written as a `.npy` at the end.
///
/// Values are the tensor's real values (`EngineValue.realValues`, shared with dlad). With
/// `keepRawAccumulators`, an INT32 tensor without quantization (a convolution's accumulators)
/// stays INT32: it has no real-valued scale, and FP32 would round sums beyond 2^24.
struct CollectedTensor {
    let spec: ActivationSpec
    private let keepsIntegers: Bool
    private var floats: [Float] = []
    private var integers: [Int32] = []
    private(set) var rows = 0

    init(spec: ActivationSpec, keepRawAccumulators: Bool) {
        self.spec = spec
        keepsIntegers = keepRawAccumulators && spec.elementType == .int32 && spec.quantization == nil
    }

    mutating func append(_ value: EngineValue) {
        rows += value.shape.first ?? 0
        if keepsIntegers, case .int32(let tensor) = value {
            integers += tensor.scalars
        } else {
            floats += value.realValues(as: spec)
        }
    }

    /// The gathered array; `batched: false` drops the batch dimension of a single sample.
    func array(batched: Bool) throws -> NPYArray {
        let shape = batched ? [rows] + spec.sampleShape : spec.sampleShape
        do {
            return keepsIntegers ? try NPYArray(int32: integers, shape: shape) : try NPYArray(float32: floats, shape: shape)
        } catch {
            throw CLIError("tensor '\(spec.name)': \(error)")
        }
    }

    func write(to path: String, batched: Bool) throws {
        do {
            try NPY.write(try array(batched: batched), path: path)
        } catch let error as NPYError {
            throw CLIError("\(error)")
        }
    }
}
