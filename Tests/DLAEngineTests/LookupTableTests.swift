#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing
@testable import DLAEngine

struct LookupTableTests {
    func linearTable(step: Int16) throws -> LookupTable.Table {
        LookupTable.Table(entries: (0..<257).map { Int16($0) * step }, start: 0, mode: .linear(indexShift: 2),
                          underflow: .init(scale: 1, shift: 0), overflow: .init(scale: 3, shift: 1))
    }

    @Test func linearInterpolationAndSlopes() throws {
        let lo = try linearTable(step: 4)
        // Entries 4i at x = 4i: the identity, interpolated between entries.
        #expect(LookupTable.lookup(lo, 5) == .hit(5))
        #expect(LookupTable.lookup(lo, 6) == .hit(6))
        // The last entry itself counts as overflow (cmod: index ≥ 256), extrapolated by 0 from it;
        // the start counts as underflow (x − start ≤ 0). This matters only for the priorities.
        #expect(LookupTable.lookup(lo, 1024) == .overflow(1024))
        #expect(LookupTable.lookup(lo, 0) == .underflow(0))
        // Below start: LUT[0] + (x − start)·1.
        #expect(LookupTable.lookup(lo, -3) == .underflow(-3))
        // Above end (1024): LUT[256] + (x − end)·3 >> 1, rounded half away: 6·3/2 = 9; 1·3/2 = 1.5 → 2.
        #expect(LookupTable.lookup(lo, 1030) == .overflow(1033))
        #expect(LookupTable.lookup(lo, 1025) == .overflow(1026))
    }

    @Test func interpolationRoundsHalfAwayFromZero() throws {
        let table = LookupTable.Table(entries: [0, 1] + [Int16](repeating: 1, count: 255), start: 0, mode: .linear(indexShift: 1))
        #expect(LookupTable.lookup(table, 1) == .hit(1))  // 0 + 1·1/2 = 0.5 → 1
        let negative = LookupTable.Table(entries: [0, -1] + [Int16](repeating: -1, count: 255), start: 0, mode: .linear(indexShift: 1))
        #expect(LookupTable.lookup(negative, 1) == .hit(-1))  // −0.5 → −1
    }

    @Test func exponentialIndexUsesTheLeadingBit() throws {
        let le = LookupTable.Table(entries: (0..<65).map { Int16($0) * 100 }, start: 0, mode: .exponential(indexOffset: 0))
        #expect(LookupTable.lookup(le, 8) == .hit(300))
        #expect(LookupTable.lookup(le, 12) == .hit(350))   // halfway from 2^3 to 2^4
        #expect(LookupTable.lookup(le, 1) == .hit(0))
        #expect(LookupTable.lookup(le, 0) == .underflow(0))
    }

    @Test func hybridPriorityPicksTheDensityTable() throws {
        let le = LookupTable.Table(entries: [Int16](repeating: 7, count: 65), start: 0, mode: .linear(indexShift: 0))
        let lo = LookupTable.Table(entries: [Int16](repeating: 9, count: 257), start: 0, mode: .linear(indexShift: 0))
        let preferLE = try LookupTable(le: le, lo: lo, hitPriority: .le)
        let preferLO = try LookupTable(le: le, lo: lo, hitPriority: .lo)
        #expect(preferLE.evaluate(10) == 7)
        #expect(preferLO.evaluate(10) == 9)
        #expect(preferLE.evaluate(100) == 9)  // only LO covers 100
        #expect(throws: EngineError.elementCountMismatch(what: "LUT LE table", expected: 65, found: 64)) {
            try LookupTable(le: LookupTable.Table(entries: [Int16](repeating: 0, count: 64), start: 0, mode: .linear(indexShift: 0)), lo: lo)
        }
    }

    /// Sigmoid and tanh through the tables stay within a few LSB of the real function over ±10.
    @Test func activationTablesApproximateSigmoidAndTanh() throws {
        let fractionBits = 8
        let scale = 32767.0
        for (f, tolerance) in [({ (x: Double) in 1 / (1 + exp(-x)) }, 0.002), ({ (x: Double) in tanh(x) }, 0.004)] {
            let table = try LookupTable.activation(f, inputFractionBits: fractionBits, outputScale: scale)
            var worst = 0.0
            for x in stride(from: -2560, through: 2560, by: 7) {
                let got = Double(table.evaluate(Int64(x))) / scale
                worst = max(worst, abs(got - f(Double(x) / 256)))
            }
            #expect(worst < tolerance, "worst error \(worst)")
        }
    }
}

/// The cmod's fixed-point details (nvdla/hw `cmod/cdp/NV_NVDLA_cdp.cpp`, `lookup_lut`).
struct LookupTableCModelTests {
    /// The remainder becomes a 16-bit fraction: with an index shift of 20, the low 4 bits drop.
    @Test func fractionIsSixteenBits() throws {
        let table = LookupTable.Table(entries: [0, 16] + [Int16](repeating: 16, count: 255), start: 0, mode: .linear(indexShift: 20))
        // x = 2^19 + 15: fraction (2^19 + 15) >> 4 = 2^15 (the 15 drops) → 16·2^15/2^16 = 8 exactly.
        #expect(LookupTable.lookup(table, (1 << 19) + 15) == .hit(8))
        // x = 2^19 + 2^15: fraction 2^15 + 2^11 → 16·(2^15 + 2^11)/2^16 = 8.5 → 9.
        #expect(LookupTable.lookup(table, (1 << 19) + (1 << 15)) == .hit(9))
    }

    /// Each table's result saturates to 16 bits; exponential underflow extrapolates from
    /// start + 2^indexOffset.
    @Test func resultsSaturateAndExponentialUnderflowStartsAtTheFirstEntry() throws {
        let steep = LookupTable.Table(entries: [Int16](repeating: 32000, count: 257), start: 0, mode: .linear(indexShift: 0),
                                      overflow: .init(scale: 100, shift: 0))
        #expect(LookupTable.lookup(steep, 300) == .overflow(32767))
        let le = LookupTable.Table(entries: (0..<65).map { Int16($0) }, start: 0, mode: .exponential(indexOffset: 3),
                                   underflow: .init(scale: 1, shift: 0))
        // x = 5 lies below 2^3: LUT[0] + (5 − 0 − 8)·1 = −3.
        #expect(LookupTable.lookup(le, 5) == .underflow(-3))
        #expect(LookupTable.lookup(le, 0) == .underflow(-8))
    }
}
