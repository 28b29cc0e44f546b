import DLAAPI
import DLAEngine
import DLAFormat

/// A request's inputs checked against the model's interface and held as the executor takes
/// them: FP32 (the model's input converter quantizes them, exactly as `dlactl run` does) or an
/// INT8 input's own codes from an int8 `.npy`.
struct InferenceInputBinding {
    var values: [EngineValue]
    var rows: Int

    /// From a JSON body: each input `[N, …sample shape]`, or `[N, elements]` with the sample
    /// flattened.
    init(json inputs: InferenceInputs, specs: [ActivationSpec]) throws(APIFailure) {
        let arrays: [(String, NumericArray)]
        switch inputs {
        case .single(let array):
            guard specs.count == 1 else {
                throw APIFailure(.badRequest, "the model has \(specs.count) inputs (\(specs.map(\.name).joined(separator: ", "))): send {\"inputs\": {\"name\": [[…]], …}}")
            }
            arrays = [(specs[0].name, array)]
        case .named(let named):
            let names = Set(named.map(\.0))
            if let unknown = named.first(where: { pair in !specs.contains { $0.name == pair.0 } }) {
                throw APIFailure(.badRequest, "the model has no input '\(unknown.0)' (its inputs: \(specs.map(\.name).joined(separator: ", ")))")
            }
            if let missing = specs.first(where: { !names.contains($0.name) }) {
                throw APIFailure(.badRequest, "input '\(missing.name)' is missing (the model's inputs: \(specs.map(\.name).joined(separator: ", ")))")
            }
            arrays = specs.map { spec in (spec.name, named.first { $0.0 == spec.name }!.1) }
        }
        var values: [EngineValue] = []
        var rows: Int?
        for ((name, array), spec) in zip(arrays, specs) {
            let sample = spec.sampleShape
            let elements = sample.reduce(1, *)
            guard let first = array.shape.first,
                  Array(array.shape.dropFirst()) == sample || array.shape.dropFirst() == [elements] else {
                let flattened = sample.count > 1 ? " (or [N, \(elements)])" : ""
                throw APIFailure(.badRequest, "input '\(name)': expected shape \(InputArrayError.describe(["N"] + sample.map(String.init)))\(flattened), got \(InputArrayError.describe(array.shape.map(String.init)))")
            }
            try Self.checkRows(first, name: name, rows: &rows)
            try Self.refuseNaN(array.values, name: name, perRow: elements)
            values.append(.float32(try Self.tensor(shape: [first] + sample, scalars: array.values)))
        }
        self.values = values
        self.rows = rows ?? 0
    }

    /// From an `.npy` body (one-input models): `[N, …sample shape]` in a dtype the input takes
    /// (`InputArray`, as `dlactl run` binds its files).
    init(npy bytes: [UInt8], specs: [ActivationSpec]) throws(APIFailure) {
        guard specs.count == 1 else {
            throw APIFailure(.unsupportedMediaType, "the model has \(specs.count) inputs: an .npy body carries one; send JSON {\"inputs\": {\"name\": …}}")
        }
        let array: NPYArray
        do {
            array = try NPY.read(bytes)
        } catch {
            throw APIFailure(.badRequest, "the body is not a valid .npy file: \(error)")
        }
        do {
            let input = try InputArray(array, spec: specs[0], allowingUnbatched: false)
            values = [input.value]
            rows = input.rows
        } catch {
            throw APIFailure(.badRequest, "input '\(specs[0].name)': \(error)")
        }
    }

    private static func checkRows(_ count: Int, name: String, rows: inout Int?) throws(APIFailure) {
        guard count > 0 else { throw APIFailure(.badRequest, "input '\(name)' has no samples") }
        if let rows, rows != count {
            throw APIFailure(.badRequest, "inputs disagree on the number of samples: \(rows) and \(count) ('\(name)')")
        }
        rows = count
    }

    private static func refuseNaN(_ values: [Float], name: String, perRow: Int) throws(APIFailure) {
        guard let first = values.firstIndex(where: \.isNaN) else { return }
        let row = max(perRow, 1)
        let error = InputArrayError.notANumber(count: values.count(where: \.isNaN), row: first / row, element: first % row)
        throw APIFailure(.badRequest, "input '\(name)': \(error)")
    }

    private static func tensor<T>(shape: [Int], scalars: [T]) throws(APIFailure) -> Tensor<T> {
        do {
            return try Tensor(shape: shape, scalars: scalars)
        } catch {
            throw APIFailure(.badRequest, "inputs: \(error)")
        }
    }
}
