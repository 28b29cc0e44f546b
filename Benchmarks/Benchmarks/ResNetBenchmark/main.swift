// Does the emulated DLA scale to a ResNet-18-sized network (issue 3, "It must scale")? Builds an
// INT8 ResNet-18 (random weights, calibrated activation scales), writes and reads it as a .dla
// file, and runs it at batch 1 on one thread: host latency and GOPS, emulated cycles on nv_full
// and xavier, peak resident memory against the "largest layer" bound, activation saturation.
// Run from the repository root (release build):
//   swift run -c release --package-path Benchmarks ResNetBenchmark [--size 224] [--runs 15] [--threads 2] [--export DIR]
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
    var inputSize = 224
    /// Calibration's input size (default: the benchmark's).
    var calibrationSize: Int?
    var calibrationRounds = 5
    var warmupRuns = 2
    var runs = 15
    var seed: UInt64 = 18
    var output = "Benchmarks/results/resnet18.json"
    /// Where to write the weights, scales, input and output as .npy for the ONNX Runtime peer.
    var export: String?
    /// Host threads of the second timed series (1: none).
    var threads = 2

    init(_ arguments: [String]) throws {
        var rest = arguments[...]
        while let flag = rest.popFirst() {
            guard let value = rest.popFirst() else { throw BenchmarkError("\(flag) needs a value") }
            func positive() throws -> Int {
                guard let number = Int(value), number >= 1 else { throw BenchmarkError("\(flag): expected a positive integer, found \(value)") }
                return number
            }
            switch flag {
            case "--size": inputSize = try positive()
            case "--calibration-size": calibrationSize = try positive()
            case "--calibration-rounds": calibrationRounds = try positive()
            case "--warmup": warmupRuns = try positive()
            case "--runs": runs = try positive()
            case "--seed": seed = UInt64(try positive())
            case "--output": output = value
            case "--export": export = value
            case "--threads": threads = try positive()
            default:
                throw BenchmarkError("unknown option \(flag) (known: --size, --calibration-size, --calibration-rounds, --warmup, --runs, --seed, --output, --export, --threads)")
            }
        }
    }
}

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

/// CPU time of this process: on one thread, an inference's own work without the time other
/// processes took the core (the machine is shared), in milliseconds.
func cpuMilliseconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return Double(time.tv_sec) * 1e3 + Double(time.tv_nsec) * 1e-6
}

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1e3 + Double(duration.components.attoseconds) * 1e-15
}

/// A normalized image-like input: N(0, 1) per element, as after ImageNet mean/std normalization.
func randomInput(size: Int, seed: UInt64) throws -> EngineValue {
    var generator = SeededGenerator(seed: seed)
    let values = (0..<(3 * size * size)).map { _ in Float(generator.gaussian()) }
    return .float32(try Tensor(shape: [1, 3, size, size], scalars: values))
}

/// Every SDP output's scale before calibration: 4σ of a unit-variance activation over 127 codes.
func initialScales(_ weights: ResNet18Weights) -> ResNet18Graph.Scales {
    var scales: ResNet18Graph.Scales = ["input": 4.0 / 127]
    for layer in weights.layers {
        let isSecond = layer.name.hasSuffix(".conv2")
        scales[isSecond ? String(layer.name.dropLast(".conv2".count)) : layer.name] = 4.0 / 127
    }
    return scales
}

func emulated(_ stats: ExecutionStats, _ profile: HardwareProfile) -> ResNetResults.Emulated {
    ResNetResults.Emulated(
        profile: profile.name, clockHertz: profile.clockHertz, macs: stats.total.macs, hardwareCycles: stats.total.hardwareCycles,
        latencyMs: stats.emulatedSeconds * 1e3, macUtilization: stats.total.macUtilization,
        zeroSkippingLatencyMs: stats.zeroSkippingSeconds * 1e3, dramBytes: stats.total.dramBytes,
        energyMillijoules: stats.total.energyPicojoules * 1e-9)
}

func run() throws {
    let options = try Options(Array(CommandLine.arguments.dropFirst()))
    let loadBefore = loadAverage()
    let clock = ContinuousClock()
    let weights = ResNet18Weights.random(seed: options.seed)

    // Calibration at the benchmark's size.
    let calibrationStart = clock.now
    let input = try randomInput(size: options.inputSize, seed: options.seed + 1)
    let calibrationSize = options.calibrationSize ?? options.inputSize
    let calibrationInput = calibrationSize == options.inputSize ? input : try randomInput(size: calibrationSize, seed: options.seed + 1)
    let scales = try Calibration.calibrate(weights: weights, inputSize: calibrationSize, input: calibrationInput,
                                           rounds: options.calibrationRounds, initial: initialScales(weights)).scales
    print("calibrated \(scales.count) activation scales on a \(calibrationSize)×\(calibrationSize) input in "
          + Report.fixed(milliseconds(clock.now - calibrationStart) / 1e3, 1) + " s")

    _ = ProcessMemory.releaseFreedHeap()
    let residentBeforeCompile = ProcessMemory.residentBytes()
    let prepared = try PreparedModel(weights: weights, inputSize: options.inputSize, scales: scales)
    let executor = try Executor(model: prepared.compiled, profile: .nvFull, threads: 1)

    // Latency and memory: the peak is reset after building, so it is the inference's own.
    let heapReleased = ProcessMemory.releaseFreedHeap()
    let residentBefore = ProcessMemory.residentBytes()
    let peakReset = ProcessMemory.resetPeak()
    var last: Executor.Result?
    for _ in 0..<options.warmupRuns { last = try executor.run([input]) }
    var samples: [(ms: Double, stats: ExecutionStats)] = []
    var cpuSamples: [Double] = []
    for _ in 0..<options.runs {
        let start = clock.now, cpuStart = cpuMilliseconds()
        let result = try executor.run([input])
        samples.append((milliseconds(clock.now - start), result.stats))
        cpuSamples.append(cpuMilliseconds() - cpuStart)
        last = result
    }
    cpuSamples.sort()
    let peakDuring = ProcessMemory.peakResidentBytes()
    guard let last else { throw BenchmarkError("no run") }
    let sorted = samples.sorted { $0.ms < $1.ms }
    func rank(_ q: Double) -> (ms: Double, stats: ExecutionStats) { sorted[Int((Double(sorted.count - 1) * q).rounded())] }
    let median = rank(0.5)
    let p90 = rank(0.9).ms

    // The same input on several threads: one row, so its large convolutions split.
    var multiThread: ResNetResults.MultiThread?
    if options.threads > 1 {
        let threaded = try Executor(model: prepared.compiled, profile: .nvFull, threads: options.threads)
        var identical = true
        for _ in 0..<options.warmupRuns { identical = try threaded.run([input]).outputs == last.outputs && identical }
        var times: [Double] = [], cpuTimes: [Double] = []
        for _ in 0..<options.runs {
            let start = clock.now, cpuStart = cpuMilliseconds()
            let result = try threaded.run([input])
            times.append(milliseconds(clock.now - start))
            cpuTimes.append(cpuMilliseconds() - cpuStart)
            identical = result.outputs == last.outputs && identical
        }
        guard identical else { throw BenchmarkError("\(options.threads) threads gave other outputs than one thread") }
        times.sort()
        cpuTimes.sort()
        let p50 = times[Int((Double(times.count - 1) * 0.5).rounded())]
        multiThread = ResNetResults.MultiThread(threads: options.threads, p50Ms: p50, p90Ms: times[Int((Double(times.count - 1) * 0.9).rounded())],
                                                minMs: times[0], cpuP50Ms: cpuTimes[Int((Double(cpuTimes.count - 1) * 0.5).rounded())],
                                                speedup: median.ms / p50, outputsIdentical: identical)
    }
    let gops = 2 * Double(prepared.macs) / (median.ms * 1e-3) / 1e9

    var byUnit: [String: Double] = [:]
    for operation in median.stats.operations {
        byUnit[operation.unit.rawValue, default: 0] += Double(operation.hostNanoseconds) * 1e-6
    }
    let operations = zip(median.stats.operations, last.stats.operations).map { operation, emulated in
        let ms = Double(operation.hostNanoseconds) * 1e-6
        return ResNetResults.OperationTime(name: operation.name, unit: operation.unit.rawValue, strategy: operation.strategy?.rawValue, ms: ms,
                                           macs: operation.cost.macs,
                                           gops: operation.cost.macs > 0 ? 2 * Double(operation.cost.macs) / (ms * 1e-3) / 1e9 : nil,
                                           nvFullCycles: emulated.cost.hardwareCycles)
    }
    let xavierStats = try Executor(model: prepared.compiled, profile: .xavier, threads: 1).run([input]).stats

    // Saturation at the benchmark's size (the probe model keeps every activation: run after the memory measurement).
    let probed = try Calibration.probe(weights: weights, inputSize: options.inputSize, scales: scales, input: input)
    let saturation = probed.map { ActivationStatistics(name: $0.name, codes: $0.codes) }
    let totalElements = saturation.reduce(0) { $0 + $1.elements }
    let overall = saturation.reduce(0.0) { $0 + $1.saturatedFraction * Double($1.elements) } / Double(max(totalElements, 1))
    guard let worst = saturation.max(by: { $0.saturatedFraction < $1.saturatedFraction }) else { throw BenchmarkError("no activations probed") }

    let allActivations = prepared.activationBytes
    let memory = ResNetResults.Memory(
        residentBeforeModelBytes: residentBeforeCompile,
        compiledModelResidentBytes: residentBeforeCompile.flatMap { before in residentBefore.map { $0 - before } },
        residentBeforeInferenceBytes: residentBefore, peakDuringInferenceBytes: peakDuring, peakReset: peakReset, freedHeapReleased: heapReleased,
        mallocMmapThreshold: ProcessInfo.processInfo.environment["MALLOC_MMAP_THRESHOLD_"],
        inferencePeakIncreaseBytes: residentBefore.flatMap { before in peakDuring.map { $0 - before } },
        weightBytes: prepared.weightBytes, largestOperation: prepared.largestOperation.name,
        largestOperationBytes: prepared.largestOperation.bytes, allActivationsBytes: allActivations,
        peakLiveActivationsBytes: prepared.peakLiveActivationBytes,
        boundWeightsPlusLargestOperationBytes: prepared.weightBytes + prepared.largestOperation.bytes,
        unboundedWeightsPlusAllActivationsBytes: prepared.weightBytes + allActivations)

    let results = ResNetResults(
        created: Date.now.formatted(.iso8601),
        command: (["swift run -c release --package-path Benchmarks ResNetBenchmark"] + CommandLine.arguments.dropFirst()).joined(separator: " "),
        host: ResNetResults.Host(cpu: cpuName(), instructionSet: last.stats.hostInstructionSet, loadAverage1Min: [loadBefore, loadAverage()]),
        network: ResNetResults.Network(inputShape: [1, 3, options.inputSize, options.inputSize], macs: prepared.macs,
                                       parameters: weights.parameterCount, dlaFileBytes: prepared.fileBytes, operations: prepared.operationCount,
                                       seed: options.seed, calibrationInputSize: calibrationSize, preparationMs: prepared.phaseMilliseconds),
        latency: ResNetResults.Latency(
            runs: options.runs, warmupRuns: options.warmupRuns, threads: 1, batchSize: 1, p50Ms: median.ms, p90Ms: p90,
            cpuP50Ms: cpuSamples[Int((Double(cpuSamples.count - 1) * 0.5).rounded())],
            minMs: sorted[0].ms, gops: gops, timedCall: "Executor.run([float32 1×3×H×W]) incl. input quantization, softmax and stats",
            hostMsByUnit: byUnit, operations: operations, multiThread: multiThread),
        emulated: [emulated(last.stats, .nvFull), emulated(xavierStats, .xavier)],
        memory: memory,
        saturation: ResNetResults.Saturation(inputSize: options.inputSize, overallSaturatedFraction: overall, worstTensor: worst.name,
                                             worstSaturatedFraction: worst.saturatedFraction, tensors: saturation))
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(results).write(to: URL(fileURLWithPath: options.output))
    Report.print(results)
    if let directory = options.export {
        guard let logits = probed.last(where: { $0.name == "fc" }), let logitScale = scales["fc"] else {
            throw BenchmarkError("probe run: no fc logits")
        }
        try PeerExport.write(weights: weights, macs: prepared.macs, scales: scales, input: input, output: last.outputs[0],
                             logits: logits.codes.map { Float($0) * logitScale }, to: directory)
        print("exported weights, scales, input and dlad's logits and output to \(directory)")
    }
    print("wrote \(options.output)")
}

do {
    try run()
} catch {
    let message = Array("ResNetBenchmark: \(error)\n".utf8)
    _ = message.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(1)
}
