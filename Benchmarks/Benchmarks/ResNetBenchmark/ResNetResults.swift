/// `Benchmarks/results/resnet18.json`, written with snake_case keys.
struct ResNetResults: Encodable {
    struct Host: Encodable {
        var cpu: String
        var instructionSet: String
        var loadAverage1Min: [Double?]
    }

    struct Network: Encodable {
        var inputShape: [Int]
        var macs: Int
        var parameters: Int
        var dlaFileBytes: Int
        var operations: Int
        var seed: UInt64
        var calibrationInputSize: Int
        /// Building the `.dla` model, writing it, reading it back, compiling it, in milliseconds.
        var preparationMs: [String: Double]
    }

    struct Latency: Encodable {
        var runs: Int
        var warmupRuns: Int
        var threads: Int
        var batchSize: Int
        var p50Ms: Double
        var p90Ms: Double
        /// Process CPU time per run (one thread: the run's own work, preemption excluded).
        var cpuP50Ms: Double
        var minMs: Double
        var gops: Double
        var timedCall: String
        /// Host time by unit on the median run, in milliseconds.
        var hostMsByUnit: [String: Double]
        /// Every operation on the median run, in execution order.
        var operations: [OperationTime]
        /// The same runs with several host threads (a single row: its convolutions split).
        var multiThread: MultiThread?
    }

    struct MultiThread: Encodable {
        var threads: Int
        var p50Ms: Double
        var p90Ms: Double
        var minMs: Double
        /// Process CPU time per run, all threads: beside one thread's, the cost of splitting.
        var cpuP50Ms: Double
        /// One thread's p50 ÷ this p50.
        var speedup: Double
        /// Whether the outputs equal the one-thread run's bit for bit.
        var outputsIdentical: Bool
    }

    struct OperationTime: Encodable {
        var name: String
        var unit: String
        var strategy: String?
        var ms: Double
        var macs: Int
        var gops: Double?
        var nvFullCycles: Int
    }

    struct Emulated: Encodable {
        var profile: String
        var clockHertz: Double
        var macs: Int
        var hardwareCycles: Int
        var latencyMs: Double
        var macUtilization: Double
        var zeroSkippingLatencyMs: Double
        var dramBytes: Int
        var energyMillijoules: Double
    }

    struct Memory: Encodable {
        /// Resident set (freed heap released) after calibration, before the model is built.
        var residentBeforeModelBytes: Int?
        /// What building, writing, reading and compiling left resident: the compiled model
        /// (execution-form weights), the builder's and the file's copies being freed.
        var compiledModelResidentBytes: Int?
        /// Resident set once the model is compiled, before the first inference.
        var residentBeforeInferenceBytes: Int?
        /// Peak resident set over the warm-up and timed runs (the peak was reset just before).
        var peakDuringInferenceBytes: Int?
        var peakReset: Bool
        /// Whether freed heap pages were handed back (`malloc_trim`) before measuring.
        var freedHeapReleased: Bool
        /// glibc's `MALLOC_MMAP_THRESHOLD_` if set: with a small one (131072) every large array is
        /// mapped and unmapped on its own, so the peak counts live data only, not heap reuse.
        var mallocMmapThreshold: String?
        var inferencePeakIncreaseBytes: Int?
        var weightBytes: Int
        var largestOperation: String
        var largestOperationBytes: Int
        var allActivationsBytes: Int
        /// Most activation bytes alive at once with the executor's freeing (from the graph).
        var peakLiveActivationsBytes: Int
        var boundWeightsPlusLargestOperationBytes: Int
        var unboundedWeightsPlusAllActivationsBytes: Int
    }

    struct Saturation: Encodable {
        var inputSize: Int
        var overallSaturatedFraction: Double
        var worstTensor: String
        var worstSaturatedFraction: Double
        var tensors: [ActivationStatistics]
    }

    var created: String
    var command: String
    var host: Host
    var network: Network
    var latency: Latency
    var emulated: [Emulated]
    var memory: Memory
    var saturation: Saturation
}
