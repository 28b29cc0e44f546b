/// Latency samples of repeated calls, per inference (call time ÷ batch size), on the monotonic
/// `ContinuousClock`.
struct LatencySummary: Codable {
    var p50: Double
    var p99: Double
    var mean: Double
    var min: Double

    /// Nearest-rank percentiles of `microseconds`.
    init(microseconds: [Double]) {
        let sorted = microseconds.sorted()
        func rank(_ q: Double) -> Double { sorted[Int((Double(sorted.count - 1) * q).rounded())] }
        p50 = rank(0.5)
        p99 = rank(0.99)
        mean = sorted.reduce(0, +) / Double(sorted.count)
        min = sorted[0]
    }
}

enum LatencyMeasurement {
    /// Calls `body(i)` for `warmupSeconds`, then until both `minimumSeconds` and `minimumCalls`
    /// are reached; returns each timed call in microseconds. `i` cycles through the inputs.
    static func measure(warmupSeconds: Double, minimumSeconds: Double, minimumCalls: Int, inputs: Int,
                        _ body: (Int) throws -> Void) rethrows -> [Double] {
        let clock = ContinuousClock()
        var index = 0
        let warmupEnd = clock.now + .seconds(warmupSeconds)
        while clock.now < warmupEnd {
            try body(index % inputs)
            index += 1
        }
        var samples: [Double] = []
        samples.reserveCapacity(minimumCalls * 2)
        let start = clock.now
        let minimum = Duration.seconds(minimumSeconds)
        while samples.count < minimumCalls || clock.now - start < minimum {
            let before = clock.now
            try body(index % inputs)
            let elapsed = clock.now - before
            samples.append(microseconds(elapsed))
            index += 1
        }
        return samples
    }

    static func microseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) * 1e-12
    }

    /// The clock's own cost: the p50 of an empty timed section, in microseconds.
    static func timerOverhead() -> Double {
        let clock = ContinuousClock()
        var samples: [Double] = []
        for _ in 0..<10_000 {
            let before = clock.now
            samples.append(microseconds(clock.now - before))
        }
        return LatencySummary(microseconds: samples).p50
    }
}
