import DLAEngine
import DLAFormat
import DLANumerics

/// One tensor's values gathered batch by batch, written as a `.npy` at the end.
///
/// Integer codes are dequantized with the tensor's quantization (`(q − zero point)·scale`, as
/// ONNX DequantizeLinear); FP16/FP8 values, which the engine holds as `real / scale`, are scaled
/// back. With `keepRawAccumulators`, an INT32 tensor without quantization (a convolution's
/// accumulators) stays INT32: it has no real-valued scale, and FP32 would round sums beyond 2^24.
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
        let scale = spec.quantization?.scale ?? 1
        let zeroPoint = spec.quantization?.zeroPoint ?? 0
        switch value {
        case .int8(let tensor):
            floats += tensor.scalars.map { AffineQuantization.dequantize(Int32($0), scale: scale, zeroPoint: zeroPoint) }
        case .int32(let tensor) where keepsIntegers:
            integers += tensor.scalars
        case .int32(let tensor):
            floats += tensor.scalars.map { AffineQuantization.dequantize($0, scale: scale, zeroPoint: zeroPoint) }
        case .float32(let tensor) where spec.elementType == .float32 || scale == 1:
            floats += tensor.scalars
        case .float32(let tensor):
            floats += tensor.scalars.map { $0 * scale }
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
