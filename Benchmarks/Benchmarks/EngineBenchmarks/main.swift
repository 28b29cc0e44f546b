// The engine half of `make bench`: dlad's engine on the peers' models and MNIST test images, one
// thread, batch 1 and 64; accuracy and agreement with the peers' integer reference; the combined
// table with Benchmarks/results/peers.json. Run from the repository root:
//   swift run -c release --package-path Benchmarks EngineBenchmarks [--min-seconds S] [--models a,b]
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DLAEngine
import DLAFormat

struct Options {
    var workDirectory = "Benchmarks/.work"
    var peers = "Benchmarks/results/peers.json"
    var output = "Benchmarks/results/engine.json"
    var models = ["lenet-300-100", "lenet-300-100-pruned90", "lenet-5"]
    var warmupSeconds = 0.5
    var minimumSeconds = 2.0
    /// Images for accuracy and agreement (all by default; fewer for quick profiling runs).
    var accuracyImages = Int.max
    var batchSizes = [1, 64]
    /// Prints each operation's median host time and strategy per batch size.
    var operationTimes = false
    /// Overrides the minimum timed calls per batch size (profiling runs).
    var minimumCalls: Int?
    /// Forces a convolution strategy (nil: the executor picks per layer), to compare kernels.
    var strategy: ConvolutionStrategy?

    init(_ arguments: [String]) throws {
        var rest = arguments[...]
        while let flag = rest.popFirst() {
            if flag == "--operation-times" {
                operationTimes = true
                continue
            }
            guard let value = rest.popFirst() else { throw BenchmarkError("\(flag) needs a value") }
            switch flag {
            case "--work": workDirectory = value
            case "--peers": peers = value
            case "--output": output = value
            case "--accuracy-images":
                guard let count = Int(value), count >= 1 else { throw BenchmarkError("--accuracy-images: expected a positive integer, found \(value)") }
                accuracyImages = count
            case "--min-calls":
                guard let count = Int(value), count >= 1 else { throw BenchmarkError("--min-calls: expected a positive integer, found \(value)") }
                minimumCalls = count
            case "--batch-sizes":
                let sizes = value.split(separator: ",").compactMap { Int($0) }
                guard !sizes.isEmpty, sizes.allSatisfy({ $0 >= 1 }) else { throw BenchmarkError("--batch-sizes: expected positive integers, found \(value)") }
                batchSizes = sizes
            case "--models": models = value.split(separator: ",").map(String.init)
            case "--strategy":
                guard let forced = ConvolutionStrategy(rawValue: value) else {
                    throw BenchmarkError("--strategy: expected one of \(ConvolutionStrategy.allCases.map(\.rawValue).joined(separator: ", ")), found \(value)")
                }
                strategy = forced
            case "--min-seconds":
                guard let seconds = Double(value), seconds > 0 else { throw BenchmarkError("--min-seconds: expected a positive number, found \(value)") }
                minimumSeconds = seconds
                warmupSeconds = min(warmupSeconds, seconds / 4)
            default: throw BenchmarkError("unknown option \(flag) (known: --work, --peers, --output, --models, --min-seconds, --accuracy-images, --min-calls, --batch-sizes, --strategy, --operation-times)")
            }
        }
    }
}

let minimumCalls = [1: 2000, 64: 300]
let profile = HardwareProfile.nvFull

func readText(_ path: String) -> String? {
    (try? Data(contentsOf: URL(fileURLWithPath: path))).map { String(decoding: $0, as: UTF8.self) }
}

func loadAverage() -> Double? {
    readText("/proc/loadavg")?.split(separator: " ").first.flatMap { Double($0) }
}

func cpuName() -> String {
    let line = readText("/proc/cpuinfo")?.split(separator: "\n").first { $0.hasPrefix("model name") }
    return line?.split(separator: ":", maxSplits: 1).last.map { String($0.drop { $0 == " " || $0 == "\t" }) } ?? "unknown"
}

/// The VNNI peak: best of five timed probes of 2^22 rounds (≈ 4·10^9 MACs each).
func vnniPeakGops() -> Double? {
    let clock = ContinuousClock()
    var best: Double?
    for _ in 0..<5 {
        let start = clock.now
        let macs = HostKernels.vnniPeakMACs(iterations: 1 << 22)
        let seconds = LatencyMeasurement.microseconds(clock.now - start) * 1e-6
        guard macs > 0 else { return nil }
        let gops = 2 * Double(macs) / seconds / 1e9
        best = max(best ?? 0, gops)
    }
    return best
}

func argmax(_ row: ArraySlice<Int8>) -> Int {
    var best = row.startIndex
    for i in row.indices where row[i] > row[best] { best = i }
    return best - row.startIndex
}

func int8Outputs(_ result: Executor.Result) throws -> [Int8] {
    guard case .int8(let tensor) = result.outputs[0] else {
        throw BenchmarkError("model output: expected int8, found \(result.outputs[0].typeName)")
    }
    return tensor.scalars
}

/// Pre-cut contiguous batches of the test images as the executor's float32 input (its input
/// converter quantizes them, as the peers' models do).
func batches(_ images: [Float], imageSize: Int, shape: [Int], batch: Int) throws -> [[EngineValue]] {
    let count = images.count / imageSize / batch
    return try (0..<count).map { b in
        let slice = Array(images[(b * batch * imageSize)..<((b + 1) * batch * imageSize)])
        return [.float32(try Tensor(shape: [batch] + shape, scalars: slice))]
    }
}

func run() throws {
    let options = try Options(Array(CommandLine.arguments.dropFirst()))
    let loadBefore = loadAverage()
    let peers = try? PeerResults.load(options.peers)
    if peers == nil { print("note: \(options.peers) not readable; the table shows dlad alone (run Benchmarks/peers/run.sh)") }
    let timerOverhead = LatencyMeasurement.timerOverhead()
    let peak = vnniPeakGops()
    var modelResults: [String: EngineResults.ModelResult] = [:]
    var latencies: [EngineResults.Latency] = []

    for name in options.models {
        let directory = options.workDirectory + "/models/" + name
        let interchange = try InterchangeModel.load(directory: directory)
        let bytes = try DLAFile.write(try EngineModelBuilder.build(interchange, directory: directory), environment: [:])
        let compiled = try ModelAdapter.compile(try DLAFile.read(bytes))
        let executor = try Executor(model: compiled, profile: profile, threads: 1, strategy: options.strategy)

        let images = try NPYFile.float32(directory + "/" + interchange.reference.images)
        let labels = try NPYFile.int64(directory + "/" + interchange.reference.labels)
        let reference = try NPYFile.int8(directory + "/" + interchange.reference.outputCodes)
        let imageSize = interchange.input.shape.reduce(1, *)
        let classes = interchange.output.shape.reduce(1, *)
        let availableImages = images.values.count / imageSize
        guard availableImages == labels.count, reference.values.count == availableImages * classes else {
            throw BenchmarkError("\(name): \(availableImages) images, \(labels.count) labels, \(reference.values.count / classes) reference rows")
        }
        let imageCount = min(availableImages, options.accuracyImages)

        // Accuracy and agreement on every test image, in batches of 100.
        var outputs: [Int8] = []
        for chunk in try batches(Array(images.values[..<(imageCount * imageSize)]), imageSize: imageSize, shape: interchange.input.shape, batch: 100) {
            outputs += try int8Outputs(try executor.run(chunk))
        }
        let rest = imageCount % 100
        if rest > 0 {
            let tail = Array(images.values[((imageCount - rest) * imageSize)..<(imageCount * imageSize)])
            outputs += try int8Outputs(try executor.run([.float32(try Tensor(shape: [rest] + interchange.input.shape, scalars: tail))]))
        }
        var correct = 0, agreeing = 0, identical = 0, maxDiff = 0
        for i in 0..<imageCount {
            let ours = outputs[(i * classes)..<((i + 1) * classes)], theirs = reference.values[(i * classes)..<((i + 1) * classes)]
            if argmax(ours) == Int(labels[i]) { correct += 1 }
            if argmax(ours) == argmax(theirs) { agreeing += 1 }
            for (a, b) in zip(ours, theirs) {
                let diff = abs(Int(a) - Int(b))
                if diff == 0 { identical += 1 }
                maxDiff = max(maxDiff, diff)
            }
        }
        let macs = interchange.macsPerInference
        modelResults[name] = EngineResults.ModelResult(
            macsPerInference: macs, dlaFileBytes: bytes.count, top1: Double(correct) / Double(imageCount), correct: correct, images: imageCount,
            referenceAgreement: EngineResults.Agreement(
                identicalLogitsFraction: Double(identical) / Double(outputs.count), maxAbsDiffLsb: maxDiff,
                top1Agreement: Double(agreeing) / Double(imageCount), outputsIdenticalToReference: identical == outputs.count))

        for batch in options.batchSizes {
            let inputs = try batches(images.values, imageSize: imageSize, shape: interchange.input.shape, batch: batch)
            let samples = try LatencyMeasurement.measure(warmupSeconds: options.warmupSeconds, minimumSeconds: options.minimumSeconds,
                                                         minimumCalls: options.minimumCalls ?? minimumCalls[batch] ?? 300, inputs: inputs.count) { index in
                _ = try executor.run(inputs[index])
            }
            let summary = LatencySummary(microseconds: samples.map { $0 / Double(batch) })
            if options.operationTimes {
                var perOperation: [[Double]] = []
                var strategies: [String] = []
                var totals: [Double] = []
                for index in 0..<min(inputs.count, 2000) {
                    let stats = try executor.run(inputs[index]).stats
                    if perOperation.isEmpty {
                        perOperation = stats.operations.map { _ in [] }
                        strategies = stats.operations.map { "\($0.name) \($0.strategy?.rawValue ?? "")" }
                    }
                    for (i, operation) in stats.operations.enumerated() { perOperation[i].append(Double(operation.hostNanoseconds) / 1000) }
                    totals.append(Double(stats.hostNanoseconds) / 1000)
                }
                for (name, times) in zip(strategies, perOperation) {
                    print("  \(name): p50 \(fixed(LatencySummary(microseconds: times).p50, 2)) µs per call")
                }
                print("  \(name) batch \(batch): run() p50 \(fixed(LatencySummary(microseconds: totals).p50, 2)) µs per call (stats' own clock)")
            }
            var ratios: [String: Double] = [:]
            for runtime in ["litert", "onnxruntime"] {
                if let peer = peers?.entry(model: name, runtime: runtime, batch: batch) {
                    ratios[runtime] = summary.p50 / peer.latencyUsPerInference.p50
                }
            }
            latencies.append(EngineResults.Latency(
                model: name, batchSize: batch, iterations: samples.count, latencyUsPerInference: summary,
                inferencesPerSecond: 1e6 / summary.p50, gopsDenseEquivalent: 2 * Double(macs) / summary.p50 / 1e3, ratioToPeerP50: ratios))
        }
    }

    let results = EngineResults(
        created: Date.now.formatted(.iso8601),
        host: EngineResults.Host(cpu: cpuName(), logicalCPUs: ProcessInfo.processInfo.activeProcessorCount,
                                 instructionSet: HostKernels.active.description,
                                 loadAverage1Min: EngineResults.LoadAverage(before: loadBefore, after: loadAverage())),
        peak: EngineResults.Peak(vnniGops: peak, probe: "16 independent vpdpbusd zmm per round, 2^22 rounds, best of 5, one thread"),
        settings: EngineResults.Settings(
            threads: 1, profile: profile.name, batchSizes: options.batchSizes, warmupSeconds: options.warmupSeconds,
            minSeconds: options.minimumSeconds, minCalls: Dictionary(uniqueKeysWithValues: minimumCalls.map { ("\($0.key)", $0.value) }),
            timedCall: "Executor.run([float32 batch]) incl. input quantization and stats", timerOverheadUs: timerOverhead,
            strategy: options.strategy?.rawValue ?? "automatic"),
        models: modelResults, latency: latencies, peersFile: options.peers, peersCreated: peers?.created)
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(results).write(to: URL(fileURLWithPath: options.output))
    CombinedTable.print(results, peers: peers)
    print("wrote \(options.output)")
}

do {
    try run()
} catch {
    let message = Array("EngineBenchmarks: \(error)\n".utf8)
    _ = message.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(1)
}
