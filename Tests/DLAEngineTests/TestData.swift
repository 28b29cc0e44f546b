import Testing
@testable import DLAEngine

/// Deterministic pseudo-random data (SplitMix64), so failures reproduce.
struct TestRandom {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    mutating func int(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }

    /// INT8 values, a fraction `zeros` of them exactly zero, extremes included.
    mutating func int8s(_ count: Int, zeros: Double = 0) -> [Int8] {
        (0..<count).map { _ in
            if unit() < zeros { return 0 }
            return Int8(truncatingIfNeeded: next())
        }
    }

    /// ReLU-like activations: non-negative with a fraction `zeros` of zeros.
    mutating func reluInt8s(_ count: Int, zeros: Double) -> [Int8] {
        (0..<count).map { _ in unit() < zeros ? 0 : Int8(int(in: 1...127)) }
    }
}

/// On every ISA the host has: the general path, the arena on one thread and on two give the same
/// outputs (and two threads are used).
func expectEveryPathAgrees(_ model: CompiledModel, _ inputs: [EngineValue], sourceLocation: SourceLocation = #_sourceLocation) throws {
    defer { HostKernels.force(nil) }
    for isa in HostKernels.available {
        #expect(HostKernels.force(isa), sourceLocation: sourceLocation)
        let general = try Executor(model: model, profile: .nvFull, threads: 1, strategy: nil, usesArena: false).run(inputs)
        let one = try Executor(model: model, profile: .nvFull, threads: 1).run(inputs)
        let two = try Executor(model: model, profile: .nvFull, threads: 2).run(inputs)
        #expect(two.stats.hostThreads == 2, sourceLocation: sourceLocation)
        #expect(one.outputs == general.outputs && two.outputs == general.outputs, "\(isa)", sourceLocation: sourceLocation)
    }
}
