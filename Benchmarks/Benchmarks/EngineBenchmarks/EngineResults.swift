/// `Benchmarks/results/engine.json` (`dlad-engine-benchmarks/1`), written with snake_case keys.
struct EngineResults: Encodable {
    struct Host: Encodable {
        var cpu: String
        var logicalCPUs: Int
        var instructionSet: String
        var loadAverage1Min: LoadAverage

        enum CodingKeys: String, CodingKey {
            case cpu, instructionSet
            case logicalCPUs = "logical_cpus"
            case loadAverage1Min = "load_average_1min"
        }
    }

    struct LoadAverage: Encodable {
        var before: Double?
        var after: Double?
    }

    struct Peak: Encodable {
        /// 2 × MACs per second of independent `vpdpbusd`, one thread, in 10^9.
        var vnniGops: Double?
        var probe: String
    }

    struct Settings: Encodable {
        var threads: Int
        var profile: String
        var batchSizes: [Int]
        var warmupSeconds: Double
        var minSeconds: Double
        var minCalls: [String: Int]
        var timedCall: String
        var timerOverheadUs: Double
        /// The forced convolution strategy, or "automatic" (the executor picks per layer).
        var strategy: String
    }

    struct ModelResult: Encodable {
        var macsPerInference: Int
        var dlaFileBytes: Int
        var top1: Double
        var correct: Int
        var images: Int
        var referenceAgreement: Agreement
    }

    /// Agreement with the peers' integer reference (`reference_output_codes.npy`).
    struct Agreement: Encodable {
        var identicalLogitsFraction: Double
        var maxAbsDiffLsb: Int
        var top1Agreement: Double
        var outputsIdenticalToReference: Bool
    }

    struct Latency: Encodable {
        var model: String
        var batchSize: Int
        var iterations: Int
        var latencyUsPerInference: LatencySummary
        var inferencesPerSecond: Double
        var gopsDenseEquivalent: Double
        /// dlad p50 ÷ peer p50 (below 1: dlad is faster), peers' Python call included.
        var ratioToPeerP50: [String: Double]
    }

    var schema = "dlad-engine-benchmarks/1"
    var created: String
    var host: Host
    var peak: Peak
    var settings: Settings
    var models: [String: ModelResult]
    var latency: [Latency]
    var peersFile: String
    var peersCreated: String?
}
