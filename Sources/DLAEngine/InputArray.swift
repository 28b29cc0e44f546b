import DLAFormat

/// An `.npy` array checked against the model input it feeds, held in the type the executor
/// takes: FP32 (the input converter quantizes it; FP16/FP8 inputs are rounded to their type) or
/// the input's own integer type. `dlactl run`/`perf` and the daemon's `.npy` bodies bind their
/// inputs here, so both accept the same files and explain a refusal the same way.
public struct InputArray: Sendable {
    public let spec: ActivationSpec
    /// Samples in the array.
    public let rows: Int
    /// False when the array holds one sample without the batch dimension.
    public let batched: Bool
    private let values: Values

    private enum Values: Sendable {
        case int8([Int8])
        case int32([Int32])
        case float32([Float])
    }

    /// The dtypes the executor can take for `spec`: floats always (FP64 narrowed to FP32), or
    /// the input's integer type as is.
    public static func acceptedTypes(for spec: ActivationSpec) -> [NPYDType] {
        switch spec.elementType {
        case .int8: [.float32, .float64, .int8]
        case .int32: [.int32]
        case .float32, .float16, .fp8e4m3, .fp8e5m2: [.float32, .float64]
        }
    }

    /// Checks `array` against `spec`: `[N, …sample shape]`, or the bare sample shape when
    /// `allowingUnbatched`; a dtype the input takes; at least one row; no NaN.
    public init(_ array: NPYArray, spec: ActivationSpec, allowingUnbatched: Bool) throws(InputArrayError) {
        let accepted = Self.acceptedTypes(for: spec)
        let sample = spec.sampleShape
        let batched: Bool
        if array.shape.count == sample.count + 1, Array(array.shape.dropFirst()) == sample {
            batched = true
        } else if allowingUnbatched, array.shape == sample {
            batched = false
        } else {
            throw .mismatch(accepted: accepted, sample: sample, got: array.dtype, shape: array.shape)
        }
        guard accepted.contains(array.dtype) else {
            throw .mismatch(accepted: accepted, sample: sample, got: array.dtype, shape: array.shape)
        }
        let rows = batched ? array.shape[0] : 1
        guard rows > 0 else { throw .noSamples(shape: array.shape) }
        switch array.dtype {
        case .int8:
            values = .int8(array.data.map { Int8(bitPattern: $0) })
        case .int32:
            values = .int32(array.int32Elements ?? [])
        default:
            let floats = array.asFloat32()
            // A closure, not the key path `\.isNaN`: applied per element that was a few percent
            // of the daemon's work per `.npy` request.
            if let first = floats.firstIndex(where: { $0.isNaN }) {
                let perRow = max(floats.count / rows, 1)
                throw .notANumber(count: floats.count(where: \.isNaN), row: first / perRow, element: first % perRow)
            }
            values = .float32(floats)
        }
        self.spec = spec
        self.rows = rows
        self.batched = batched
    }

    /// Every row, as one batch `[rows, …sample shape]`.
    public var value: EngineValue {
        let shape = [rows] + spec.sampleShape
        // The initializer checked that the element count is rows × sample size.
        switch values {
        case .int8(let all): return .int8(try! Tensor(shape: shape, scalars: all))
        case .int32(let all): return .int32(try! Tensor(shape: shape, scalars: all))
        case .float32(let all): return .float32(try! Tensor(shape: shape, scalars: all))
        }
    }

    /// The rows at `indices` (each in `0..<rows`, in that order) as one batch.
    public func batch(_ indices: some Collection<Int>) -> EngineValue {
        let sampleCount = spec.sampleShape.reduce(1, *)
        let shape = [indices.count] + spec.sampleShape
        func gather<T>(_ all: [T]) -> [T] {
            var out: [T] = []
            out.reserveCapacity(indices.count * sampleCount)
            for row in indices {
                precondition((0..<rows).contains(row), "row \(row) of \(rows)")
                out.append(contentsOf: all[(row * sampleCount)..<((row + 1) * sampleCount)])
            }
            return out
        }
        switch values {
        case .int8(let all): return .int8(try! Tensor(shape: shape, scalars: gather(all)))
        case .int32(let all): return .int32(try! Tensor(shape: shape, scalars: gather(all)))
        case .float32(let all): return .float32(try! Tensor(shape: shape, scalars: gather(all)))
        }
    }
}

/// Why an array cannot feed a model input, worded for the person who made the file.
public enum InputArrayError: Error, Sendable, Equatable, CustomStringConvertible {
    case mismatch(accepted: [NPYDType], sample: [Int], got: NPYDType, shape: [Int])
    case noSamples(shape: [Int])
    case notANumber(count: Int, row: Int, element: Int)

    public var description: String {
        switch self {
        case .mismatch(let accepted, let sample, let got, let shape):
            let names = accepted.map(\.numpyName)
            let alternatives = names.count > 1 ? names.dropLast().joined(separator: ", ") + " or " + names.last! : names.joined()
            return "expected \(alternatives) \(Self.describe(["N"] + sample.map(String.init))), got \(got.numpyName) \(Self.describe(shape.map(String.init)))"
        case .noSamples(let shape):
            return "no samples (shape \(Self.describe(shape.map(String.init)))); need at least one row"
        case .notANumber(let count, let row, let element):
            return "\(count) NaN value\(count == 1 ? "" : "s"), the first in row \(row) at element \(element); NaN has no quantized value"
        }
    }

    /// numpy's spelling of a shape: `[N, 784]`.
    public static func describe(_ dimensions: [String]) -> String { "[" + dimensions.joined(separator: ", ") + "]" }
}
