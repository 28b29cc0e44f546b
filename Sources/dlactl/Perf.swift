import ArgumentParser
import DLAEngine
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `dlactl perf`: in-process host latency of the engine on a model, as trtexec or TFLite's
/// benchmark_model measure it.
struct Perf: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the host latency of a .dla model on the emulated DLA.",
        discussion: """
            Runs --warmup untimed then --iterations timed batches of --batch-size samples, taking \
            the rows of each --input in turn and wrapping around at the end (the batch is gathered \
            outside the timed region). The time of one executor run, measured with a monotonic \
            clock, divided by the batch size is one latency per inference; p50 and p99 are nearest-rank \
            percentiles over the iterations. Float32 inputs are quantized inside the timed run, as a \
            client's would be. The figures are host time; the emulated accelerator's cost is what \
            'dlactl run --stats' reports.

            --json prints {"batchSize", "threads", "iterations", "warmup", "latencyMicros": {"p50", \
            "p90", "p99", "mean", "min", "max"}, "inferencesPerSecond", "isa", "profile", "model"}; \
            inferencesPerSecond = batch size × iterations ÷ total timed seconds.
            """
    )

    @Argument(help: "The .dla model.")
    var model: String

    @Option(name: .customLong("input"), help: ArgumentHelp("An input .npy ([N, …input shape], float32 or the input's integer type), one per model input, in order.", valueName: "x.npy"))
    var inputs: [String]

    @Option(help: ArgumentHelp("Samples per timed run.", valueName: "n"))
    var batchSize = 1

    @Option(help: ArgumentHelp("Host threads (1–256): a batch is split over them; a single row splits its large convolutions over them.", valueName: "n"))
    var threads = 1

    @Option(help: ArgumentHelp("Untimed runs before measuring.", valueName: "n"))
    var warmup = 10

    @Option(help: ArgumentHelp("Timed runs.", valueName: "n"))
    var iterations = 100

    @Option(help: "Hardware profile (default: the model's target).")
    var profile: String?

    @Flag(help: "Print JSON instead of a summary.")
    var json = false

    func validate() throws {
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize).") }
        guard (1...256).contains(threads) else { throw ValidationError("--threads must be between 1 and 256, got \(threads).") }
        guard warmup >= 0 else { throw ValidationError("--warmup must not be negative, got \(warmup).") }
        guard iterations >= 1 else { throw ValidationError("--iterations must be at least 1, got \(iterations).") }
    }

    struct Report: Encodable {
        struct Latency: Encodable {
            var p50: Double
            var p90: Double
            var p99: Double
            var mean: Double
            var min: Double
            var max: Double
        }

        var model: String
        var profile: String
        var isa: String
        var batchSize: Int
        var threads: Int
        var warmup: Int
        var iterations: Int
        var latencyMicros: Latency
        var inferencesPerSecond: Double
    }

    func run() throws {
        let loaded = try LoadedEngineModel(path: model, profileName: profile)
        let inputs = try ModelInput.load(paths: self.inputs, model: loaded.compiled)
        let executor = try loaded.executor(threads: threads)
        let rows = inputs[0].rows
        var next = 0
        func nextBatch() throws -> [EngineValue] {
            let indices = (0..<batchSize).map { (next + $0) % rows }
            next = (next + batchSize) % rows
            return inputs.map { $0.batch(indices) }
        }
        func timedRun(_ batch: [EngineValue]) throws -> (Duration, String) {
            let start = ContinuousClock.now
            let result: Executor.Result
            do {
                result = try executor.run(batch)
            } catch {
                throw CLIError("\(model): \(error)")
            }
            return (ContinuousClock.now - start, result.stats.hostInstructionSet)
        }

        var progress = Progress("perf: runs", total: warmup + iterations)
        var isa = ""
        for run in 0..<warmup {
            isa = try timedRun(try nextBatch()).1
            progress.update(run + 1)
        }
        var micros: [Double] = []
        micros.reserveCapacity(iterations)
        var totalSeconds = 0.0
        for run in 0..<iterations {
            let (duration, used) = try timedRun(try nextBatch())
            isa = used
            let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
            totalSeconds += seconds
            micros.append(seconds * 1e6 / Double(batchSize))
            progress.update(warmup + run + 1)
        }
        progress.finish()

        let sorted = micros.sorted()
        let latency = Report.Latency(
            p50: Self.percentile(sorted, 50), p90: Self.percentile(sorted, 90), p99: Self.percentile(sorted, 99),
            mean: sorted.reduce(0, +) / Double(sorted.count), min: sorted[0], max: sorted[sorted.count - 1])
        let report = Report(model: loaded.compiled.name, profile: loaded.profile.name, isa: isa, batchSize: batchSize, threads: threads,
                            warmup: warmup, iterations: iterations, latencyMicros: latency,
                            inferencesPerSecond: totalSeconds > 0 ? Double(batchSize * iterations) / totalSeconds : 0)
        print(json ? try Self.json(report) : Self.summary(report))
    }

    /// Nearest rank: the smallest value with at least `percent` % of the values at or below it.
    static func percentile(_ sorted: [Double], _ percent: Int) -> Double {
        let rank = (sorted.count * percent + 99) / 100
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }

    static func summary(_ r: Report) -> String {
        func us(_ micros: Double) -> String { durationText(seconds: micros / 1e6) }
        let l = r.latencyMicros
        return """
            model       \(r.model) on \(r.profile) (host kernels \(r.isa))
            runs        \(r.iterations) timed after \(r.warmup) warmup, batch \(r.batchSize), \(r.threads) thread\(r.threads == 1 ? "" : "s")
            latency     p50 \(us(l.p50))  p90 \(us(l.p90))  p99 \(us(l.p99))  mean \(us(l.mean))  (min \(us(l.min)), max \(us(l.max))) per inference
            throughput  \(r.inferencesPerSecond < 1e15 ? "\(Int(r.inferencesPerSecond.rounded()))" : "\(r.inferencesPerSecond)") inferences/s
            """
    }

    static func json(_ report: Report) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            return String(decoding: try encoder.encode(report), as: UTF8.self)
        } catch {
            throw CLIError("cannot encode the report as JSON: \(error)")
        }
    }
}
