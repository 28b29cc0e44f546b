import DLAEngine
import DLAFormat

/// A `.dla` file read, compiled for the engine and bound to the hardware profile it will run on:
/// what `run` and `perf` share before their first inference.
struct LoadedEngineModel {
    let path: String
    let compiled: CompiledModel
    let profile: HardwareProfile

    /// Reads and compiles `path`. The profile defaults to the model's target; another one is
    /// accepted only if every operation can run on it (the executor checks and names the first
    /// operation and capability that fail).
    init(path: String, profileName: String?) throws {
        let bytes = try readFileBytes(path, what: "model")
        do {
            compiled = try ModelAdapter.compile(try DLAFile.read(bytes))
        } catch {
            throw CLIError("\(path): \(error)")
        }
        let name = profileName ?? compiled.targetProfile
        guard let profile = HardwareProfile.all.first(where: { $0.name == name }) else {
            let known = HardwareProfile.all.map(\.name).joined(separator: ", ")
            if profileName == nil {
                throw CLIError("\(path): the model targets profile '\(name)', which dlactl does not know (known: \(known)); choose one with --profile")
            }
            throw CLIError("unknown profile '\(name)' (known: \(known))")
        }
        self.path = path
        self.profile = profile
    }

    /// An executor on the chosen profile; refusal (an operation the profile cannot run) names
    /// the operation and the missing capability.
    func executor(threads: Int, capturingEveryOperation: Bool = false) throws -> Executor {
        var model = compiled
        if capturingEveryOperation {
            // Listing every operation's output as a graph output makes the executor keep and
            // return them all, so intermediate results need no hook inside the engine. The real
            // outputs stay first, in their order.
            model.outputs = compiled.outputs + compiled.operations.map { $0.outputs[0] }
        }
        do {
            return try Executor(model: model, profile: profile, threads: threads)
        } catch {
            throw CLIError("\(path): \(error)")
        }
    }

    /// Rows per batch when the user gives none: 64, fewer when one sample's largest activation
    /// is big, so that a batch's largest tensor stays within about 64 MiB.
    var defaultBatchSize: Int {
        let largestSampleBytes = compiled.tensors.map { spec in
            spec.sampleShape.reduce(4) { bytes, dimension in
                let (product, overflow) = bytes.multipliedReportingOverflow(by: max(dimension, 1))
                return overflow ? Int.max : product
            }
        }.max() ?? 4
        return max(1, min(64, (64 << 20) / largestSampleBytes))
    }
}
