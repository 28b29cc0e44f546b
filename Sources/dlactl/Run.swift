import ArgumentParser
import DLAEngine
import DLAFormat
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `dlactl run`: one offline inference pass over every sample of `.npy` inputs on the emulated DLA.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a .dla model on .npy inputs and write the outputs as .npy.",
        discussion: """
            Each --input is a .npy of shape [N, …input shape], in the model's input order: float32 \
            (the model's input converter quantizes it, as ONNX QuantizeLinear) or already in the \
            input's integer type (e.g. int8 codes). A file holding exactly one sample without the \
            batch dimension is accepted; its outputs are then written without it too. NaN inputs \
            are refused (a NaN has no quantized value); ±infinity saturates (an FP8 input quantized \
            with ONNX's saturate=0 overflows to NaN or ±infinity instead). Each --output is \
            written as float32 [N, …output shape], dequantized by the output tensor's quantization.

            The N samples run in batches of --batch-size rows (default 64, fewer when a model's \
            largest activation would make a batch exceed about 64 MiB); results do not depend on \
            the batch size or the thread count, only the host time does.

            --profile defaults to the model's target profile; another profile is accepted only \
            if it has every capability the model's operations need. --stats prints per-operation \
            and total emulated cost: hardware cycles (NVDLA spends one on every MAC, zeros \
            included) and zero-skipping cycles (an EIE/SCNN-style estimate), MAC utilization, \
            DRAM and SRAM (CBUF + accumulator) bytes, energy, emulated latency and host time. \
            --stats-json writes the same as JSON (keys: docs/EMULATOR.md, "dlactl run --stats-json").

            --dump-layers DIR writes every operation's output as DIR/NN-opname.npy (NN its index), \
            float32 dequantized as outputs are, except INT32 accumulators without quantization, \
            which stay int32 (exact). Dumping keeps every layer of all N samples in memory.
            """
    )

    @Argument(help: "The .dla model.")
    var model: String

    @Option(name: .customLong("input"), help: ArgumentHelp("An input .npy, one per model input, in the model's order.", valueName: "x.npy"))
    var inputs: [String]

    @Option(name: .customLong("output"), help: ArgumentHelp("Where to write an output .npy, one per model output, in order. May be omitted with --stats, --stats-json or --dump-layers.", valueName: "y.npy"))
    var outputs: [String] = []

    @Option(help: "Hardware profile: nv_small, nv_large, nv_full or xavier (default: the model's target).")
    var profile: String?

    @Option(help: ArgumentHelp("Samples per executor run (default: 64, memory-bounded).", valueName: "n"))
    var batchSize: Int?

    @Option(help: ArgumentHelp("Host threads (1–256; default: the number of CPUs): a batch is split over them; a single row splits its large convolutions over them.", valueName: "n"))
    var threads: Int?

    @Flag(help: "Print per-operation and total emulated cost and host time.")
    var stats = false

    @Option(help: ArgumentHelp("Write the statistics as JSON to this file.", valueName: "file"))
    var statsJson: String?

    @Option(help: ArgumentHelp("Write every operation's output as DIR/NN-opname.npy.", valueName: "dir"))
    var dumpLayers: String?

    func validate() throws {
        if outputs.isEmpty && !stats && statsJson == nil && dumpLayers == nil {
            throw ValidationError("Missing --output: give one .npy path per model output (or ask for --stats, --stats-json or --dump-layers).")
        }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1, got \(batchSize).") }
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be between 1 and 256, got \(threads).") }
    }

    func run() throws {
        let wallStart = ContinuousClock.now
        let loaded = try LoadedEngineModel(path: model, profileName: profile)
        let modelOutputs = loaded.compiled.outputs.map { loaded.compiled.tensors[$0] }
        if !outputs.isEmpty && outputs.count != modelOutputs.count {
            let names = modelOutputs.map(\.name).joined(separator: ", ")
            throw CLIError("the model has \(modelOutputs.count) output\(modelOutputs.count == 1 ? "" : "s") (\(names)), got \(outputs.count) --output")
        }
        for path in outputs { try checkDestination(path, what: "output") }
        if let statsJson { try checkDestination(statsJson, what: "statistics file") }
        if let dumpLayers { try prepareDirectory(dumpLayers) }

        let inputs = try ModelInput.load(paths: self.inputs, model: loaded.compiled)
        let rows = inputs[0].rows
        let batched = inputs.contains(where: \.batched)
        let batchSize = min(self.batchSize ?? loaded.defaultBatchSize, rows)
        let executor = try loaded.executor(threads: threads ?? ProcessInfo.processInfo.activeProcessorCount.clamped(to: 1...256),
                                           capturingEveryOperation: dumpLayers != nil)

        var collected = modelOutputs.map { CollectedTensor(spec: $0, keepRawAccumulators: false) }
        var layers = dumpLayers == nil ? [] : loaded.compiled.operations.map {
            CollectedTensor(spec: loaded.compiled.tensors[$0.outputs[0]], keepRawAccumulators: true)
        }
        var statistics = RunStatistics(model: loaded.compiled.name, profile: loaded.profile, batchSize: batchSize)
        var progress = Progress("run: samples", total: rows)
        for start in stride(from: 0, to: rows, by: batchSize) {
            let range = start..<min(rows, start + batchSize)
            let batch = inputs.map { $0.batch(range) }
            let result: Executor.Result
            do {
                result = try executor.run(batch)
            } catch {
                throw CLIError("\(model): \(error)")
            }
            for index in collected.indices { collected[index].append(result.outputs[index]) }
            for index in layers.indices { layers[index].append(result.outputs[collected.count + index]) }
            statistics.add(result.stats)
            progress.update(range.upperBound)
        }
        progress.finish()

        for (path, tensor) in zip(outputs, collected) { try tensor.write(to: path, batched: batched) }
        if let dumpLayers {
            for (index, (operation, tensor)) in zip(loaded.compiled.operations, layers).enumerated() {
                let path = dumpLayers + "/" + Self.dumpFileName(index: index, of: layers.count, operation: operation.name)
                try tensor.write(to: path, batched: batched)
            }
        }
        let wall = Self.nanoseconds(ContinuousClock.now - wallStart)
        if stats { print(statistics.table(wallNanoseconds: wall)) }
        if let statsJson {
            let text = try statistics.json(wallNanoseconds: wall) + "\n"
            guard FileManager.default.createFile(atPath: statsJson, contents: Data(text.utf8)) else {
                throw CLIError("cannot write statistics file '\(statsJson)'")
            }
        }
    }

    /// `NN-opname.npy`: the index zero-padded to at least two digits (so names sort in execution
    /// order), and the name with path separators, newlines and NUL made `_`.
    static func dumpFileName(index: Int, of count: Int, operation name: String) -> String {
        let digits = max(2, String(max(count - 1, 0)).count)
        let number = String(repeating: "0", count: max(0, digits - String(index).count)) + String(index)
        let safe = String(name.map { $0 == "/" || $0 == "\\" || $0.isNewline || $0 == "\0" ? "_" : $0 })
        return number + "-" + (safe.isEmpty ? "op" : safe) + ".npy"
    }

    static func nanoseconds(_ duration: Duration) -> UInt64 {
        UInt64(max(0, duration.components.seconds)) * 1_000_000_000 + UInt64(max(0, duration.components.attoseconds) / 1_000_000_000)
    }

    /// Fails before any work when an output file could not be written: its directory must exist
    /// and the path must not be a directory.
    private func checkDestination(_ path: String, what: String) throws {
        if isDirectory(path) == true { throw CLIError("\(what) '\(path)' is a directory") }
        let parent = path.contains("/") ? String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)]) : "."
        let directory = parent.isEmpty ? "/" : parent
        guard isDirectory(directory) == true else {
            throw CLIError("\(what) '\(path)': directory '\(directory)' does not exist")
        }
    }

    private func prepareDirectory(_ path: String) throws {
        if let existing = isDirectory(path) {
            guard existing else { throw CLIError("--dump-layers '\(path)' exists and is not a directory") }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw CLIError("cannot create --dump-layers directory '\(path)'")
        }
    }
}

/// Whether `path` is a directory; nil when nothing is there.
private func isDirectory(_ path: String) -> Bool? {
    guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return nil }
    return attributes[.type] as? FileAttributeType == .typeDirectory
}

extension Int {
    func clamped(to range: ClosedRange<Int>) -> Int { Swift.min(Swift.max(self, range.lowerBound), range.upperBound) }
}
