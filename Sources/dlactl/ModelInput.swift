import DLAEngine
import DLAFormat

/// One `--input` file bound to the model input it feeds (`InputArray` checks and holds it).
struct ModelInput {
    let path: String
    let array: InputArray

    var rows: Int { array.rows }
    var batched: Bool { array.batched }

    func batch(_ rows: some Collection<Int>) -> EngineValue { array.batch(rows) }

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
            do {
                inputs.append(ModelInput(path: path, array: try InputArray(try NPY.read(bytes), spec: spec, allowingUnbatched: true)))
            } catch let error as InputArrayError {
                let hint = if case .notANumber = error { ", replace it before running" } else { "" }
                throw CLIError("input \(path): \(error)\(hint)")
            } catch {
                throw CLIError("input \(path): \(error)")
            }
        }
        for input in inputs.dropFirst() where input.rows != inputs[0].rows {
            throw CLIError("inputs disagree on the number of samples: \(inputs[0].path) has \(inputs[0].rows), \(input.path) has \(input.rows)")
        }
        return inputs
    }
}
