import DLAEngine
import DLAFormat

/// One `--input` file, checked against the model input it feeds and held in the type the
/// executor takes: FP32 (the model's input converter quantizes it) or the input's own integer type.
struct ModelInput {
    let path: String
    let spec: ActivationSpec
    /// Samples in the file.
    let rows: Int
    /// False when the file holds one sample without the batch dimension.
    let batched: Bool
    private let values: Values

    private enum Values {
        case int8([Int8])
        case int32([Int32])
        case float32([Float])
    }

    /// The file's dtypes the executor can take for `spec`: FP32 always (quantized by the input
    /// converter; FP16/FP8 inputs are rounded to their type), or the input's integer type as is.
    static func acceptedTypes(for spec: ActivationSpec) -> [NPYDType] {
        switch spec.elementType {
        case .int8: [.float32, .int8]
        case .int32: [.int32]
        case .float32, .float16, .fp8e4m3, .fp8e5m2: [.float32]
        }
    }

    init(path: String, array: NPYArray, spec: ActivationSpec) throws {
        let accepted = Self.acceptedTypes(for: spec)
        let sample = spec.sampleShape
        let expectation = "expected \(accepted.map(Self.name).joined(separator: " or ")) \(Self.describe(["N"] + sample.map(String.init)))"
        let got = "got \(Self.name(array.dtype)) \(Self.describe(array.shape.map(String.init)))"
        let batched: Bool
        if array.shape.count == sample.count + 1, Array(array.shape.dropFirst()) == sample {
            batched = true
        } else if array.shape == sample {
            batched = false
        } else {
            throw CLIError("input \(path): \(expectation), \(got)")
        }
        guard accepted.contains(array.dtype) else {
            throw CLIError("input \(path): \(expectation), \(got)")
        }
        let rows = batched ? array.shape[0] : 1
        guard rows > 0 else {
            throw CLIError("input \(path): no samples (shape \(Self.describe(array.shape.map(String.init)))); need at least one row")
        }
        switch array.dtype {
        case .int8:
            values = .int8(array.data.map { Int8(bitPattern: $0) })
        case .int32:
            values = .int32(Self.int32s(array.data))
        default:
            let floats = array.asFloat32()
            if let first = floats.firstIndex(where: \.isNaN) {
                let count = floats.reduce(0) { $0 + ($1.isNaN ? 1 : 0) }
                let perRow = max(floats.count / rows, 1)
                throw CLIError("input \(path): \(count) NaN value\(count == 1 ? "" : "s"), the first in row \(first / perRow) at element \(first % perRow); NaN has no quantized value, replace it before running")
            }
            values = .float32(floats)
        }
        self.path = path
        self.spec = spec
        self.rows = rows
        self.batched = batched
    }

    /// The samples at `rows` (indices into the file's rows, in that order) as one batch.
    func batch(_ rows: some Collection<Int>) throws -> EngineValue {
        let sampleCount = spec.sampleShape.reduce(1, *)
        let shape = [rows.count] + spec.sampleShape
        func gather<T>(_ all: [T]) -> [T] {
            var out: [T] = []
            out.reserveCapacity(rows.count * sampleCount)
            for row in rows { out.append(contentsOf: all[(row * sampleCount)..<((row + 1) * sampleCount)]) }
            return out
        }
        do {
            switch values {
            case .int8(let all): return .int8(try Tensor(shape: shape, scalars: gather(all)))
            case .int32(let all): return .int32(try Tensor(shape: shape, scalars: gather(all)))
            case .float32(let all): return .float32(try Tensor(shape: shape, scalars: gather(all)))
            }
        } catch {
            throw CLIError("input \(path): \(error)")
        }
    }

    /// Reads one `--input` per model input, in the model's order, and checks they agree on the
    /// number of samples.
    static func load(paths: [String], model: CompiledModel) throws -> [ModelInput] {
        let specs = model.inputs.map { model.tensors[$0] }
        guard paths.count == specs.count else {
            let names = specs.map(\.name).joined(separator: ", ")
            throw CLIError("the model has \(specs.count) input\(specs.count == 1 ? "" : "s") (\(names)), got \(paths.count) --input")
        }
        var inputs: [ModelInput] = []
        for (path, spec) in zip(paths, specs) {
            let bytes = try readFileBytes(path, what: "input")
            let array: NPYArray
            do {
                array = try NPY.read(bytes)
            } catch {
                throw CLIError("input \(path): \(error)")
            }
            inputs.append(try ModelInput(path: path, array: array, spec: spec))
        }
        for input in inputs.dropFirst() where input.rows != inputs[0].rows {
            throw CLIError("inputs disagree on the number of samples: \(inputs[0].path) has \(inputs[0].rows), \(input.path) has \(input.rows)")
        }
        return inputs
    }

    static func name(_ dtype: NPYDType) -> String {
        switch dtype {
        case .float32: "float32"
        case .float64: "float64"
        case .float16: "float16"
        case .int8: "int8"
        case .uint8: "uint8"
        case .int32: "int32"
        case .int64: "int64"
        }
    }

    /// numpy's spelling of a shape: `[N, 784]`.
    static func describe(_ dimensions: [String]) -> String {
        "[" + dimensions.joined(separator: ", ") + "]"
    }

    private static func int32s(_ data: [UInt8]) -> [Int32] {
        stride(from: 0, to: data.count, by: 4).map { offset in
            var bits: UInt32 = 0
            for byte in 0..<4 { bits |= UInt32(data[offset + byte]) << (8 * byte) }
            return Int32(bitPattern: bits)
        }
    }
}
