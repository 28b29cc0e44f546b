/// The human-readable report of a run (the JSON file has every figure).
enum Report {
    /// `value` with `digits` decimals (no Foundation formatting in FoundationEssentials).
    static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return "\(value)" }
        var factor = 1.0
        for _ in 0..<digits { factor *= 10 }
        let scaled = Int64((abs(value) * factor).rounded())
        let whole = scaled / Int64(factor), fraction = scaled % Int64(factor)
        var text = (value < 0 && scaled != 0 ? "-" : "") + "\(whole)"
        if digits > 0 {
            let digitsText = String(fraction)
            text += "." + String(repeating: "0", count: digits - digitsText.count) + digitsText
        }
        return text
    }

    static func megabytes(_ bytes: Int?) -> String {
        bytes.map { fixed(Double($0) / 1e6, 1) + " MB" } ?? "n/a"
    }

    static func percent(_ fraction: Double) -> String { fixed(fraction * 100, 3) + " %" }

    static func print(_ r: ResNetResults) {
        let n = r.network, l = r.latency, m = r.memory, s = r.saturation
        Swift.print("""

        ResNet-18 INT8 on dlad's emulated DLA — \(r.host.cpu), host kernels \(r.host.instructionSet), load \(r.host.loadAverage1Min.map { $0.map { fixed($0, 2) } ?? "?" })
          network   input \(n.inputShape), \(fixed(Double(n.macs) / 1e9, 3)) GMAC, \(n.parameters) parameters, \(n.operations) operations, .dla file \(megabytes(n.dlaFileBytes))
          prepare   \(n.preparationMs.sorted { $0.key < $1.key }.map { "\($0.key) \(fixed($0.value, 0)) ms" }.joined(separator: ", "))
          host      batch 1, 1 thread, \(l.runs) runs after \(l.warmupRuns) warm-up: p50 \(fixed(l.p50Ms, 2)) ms, p90 \(fixed(l.p90Ms, 2)) ms, min \(fixed(l.minMs, 2)) ms → \(fixed(l.gops, 1)) GOPS (2·MAC / p50); CPU time p50 \(fixed(l.cpuP50Ms, 2)) ms
                    by unit (median run): \(l.hostMsByUnit.sorted { $0.value > $1.value }.map { "\($0.key) \(fixed($0.value, 2)) ms" }.joined(separator: ", "))
        """)
        if let t = l.multiThread {
            Swift.print("          \(t.threads) threads: p50 \(fixed(t.p50Ms, 2)) ms, p90 \(fixed(t.p90Ms, 2)) ms, min \(fixed(t.minMs, 2)) ms, CPU time p50 \(fixed(t.cpuP50Ms, 2)) ms → \(fixed(t.speedup, 2))× one thread's speed; outputs \(t.outputsIdentical ? "identical" : "DIFFER")")
        }
        Swift.print("          slowest operations (median run):")
        for operation in l.operations.sorted(by: { $0.ms > $1.ms }).prefix(10) {
            let rate = operation.gops.map { ", \(fixed($0, 1)) GOPS" } ?? ""
            Swift.print("            \(operation.name) [\(operation.strategy ?? "-")] \(fixed(operation.ms, 2)) ms\(rate)")
        }
        for e in r.emulated {
            Swift.print("  emulated  \(e.profile) @ \(fixed(e.clockHertz / 1e6, 1)) MHz: \(e.hardwareCycles) cycles = \(fixed(e.latencyMs, 3)) ms, MAC utilization \(fixed(e.macUtilization * 100, 1)) %, zero-skipping \(fixed(e.zeroSkippingLatencyMs, 3)) ms, DRAM \(megabytes(e.dramBytes)), \(fixed(e.energyMillijoules, 2)) mJ")
        }
        Swift.print("""
          memory    resident before the model \(megabytes(m.residentBeforeModelBytes)); compiled model adds \(megabytes(m.compiledModelResidentBytes)) (INT8 weights: \(megabytes(m.weightBytes)))
                    resident before inference \(megabytes(m.residentBeforeInferenceBytes)), peak during inference \(megabytes(m.peakDuringInferenceBytes)) (peak reset: \(m.peakReset), freed heap released: \(m.freedHeapReleased), MALLOC_MMAP_THRESHOLD_ \(m.mallocMmapThreshold ?? "unset")), increase \(megabytes(m.inferencePeakIncreaseBytes))
                    weights \(megabytes(m.weightBytes)); largest operation \(m.largestOperation) in+out \(megabytes(m.largestOperationBytes)); all activations \(megabytes(m.allActivationsBytes)); peak live activations (freed after last reader) \(megabytes(m.peakLiveActivationsBytes))
                    bound (weights + largest operation) \(megabytes(m.boundWeightsPlusLargestOperationBytes)) vs unbounded (weights + all activations) \(megabytes(m.unboundedWeightsPlusAllActivationsBytes))
          saturation at \(s.inputSize)×\(s.inputSize): \(percent(s.overallSaturatedFraction)) of all SDP output codes at ±127/−128; worst \(s.worstTensor) \(percent(s.worstSaturatedFraction))
        """)
    }
}
