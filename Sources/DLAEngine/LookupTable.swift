import DLANumerics

/// NVDLA's two-level hybrid lookup table, shared by SDP (activations) and CDP (LRN): a 65-entry LE
/// table (linear or exponential index) and a 257-entry LO table (linear index), 16-bit entries,
/// linear interpolation between entries and sloped extrapolation outside the covered range
/// (nvdla/doc lut-programming.rst).
///
/// Integer semantics. Linear mode: `index = (x − start) >> indexShift`, the remainder interpolates
/// between two entries (`indexShift` < 0 shifts left: no fraction). Exponential mode:
/// `index = ⌊log2(x − start)⌋ − indexOffset`, the remainder above that power of two interpolates.
/// Outside the table: `LUT[0] + (x − start)·k_underflow`, `LUT[N] + (x − end)·k_overflow` with
/// `k = scale >> shift` (shift > 0) or `scale << −shift`, the 16-bit scale and 5-bit signed shift of
/// `SLOPE_(UN|OV)ERFLOW_(SCALE|SHIFT)`. Interpolation products are rounded half away from zero; the
/// document leaves the fraction's width open, so the exact fraction here is our choice. Results
/// saturate to INT32, the SDP pipe width.
public struct LookupTable: Sendable, Hashable {
    public enum IndexMode: Sendable, Hashable {
        /// Entries at `start + i·2^indexShift` (register `LUT_*_INDEX_SELECT`).
        case linear(indexShift: Int)
        /// Entries at `start + 2^(indexOffset + i)` (register `LE_INDEX_OFFSET`); LE table only.
        case exponential(indexOffset: Int)
    }

    public struct Slope: Sendable, Hashable {
        public var scale: Int16
        /// 5-bit signed: −16...15.
        public var shift: Int
        public init(scale: Int16, shift: Int) {
            self.scale = scale
            self.shift = shift
        }
        public static let flat = Slope(scale: 0, shift: 0)

        func apply(_ dx: Int64) -> Int64 {
            let product = dx.multipliedReportingOverflow(by: Int64(scale))
            guard !product.overflow else { return dx > 0 ? Int64.max / 2 : Int64.min / 2 }
            if shift >= 0 {
                return FixedPoint.roundHalfAwayShiftRight(product.partialValue, by: shift)
            }
            let (shifted, overflow) = product.partialValue.multipliedReportingOverflow(by: Int64(1) << min(-shift, 62))
            return overflow ? (product.partialValue > 0 ? Int64.max / 2 : Int64.min / 2) : shifted
        }
    }

    public struct Table: Sendable, Hashable {
        public var entries: [Int16]
        public var start: Int64
        public var mode: IndexMode
        public var underflow: Slope
        public var overflow: Slope

        public init(entries: [Int16], start: Int64, mode: IndexMode, underflow: Slope = .flat, overflow: Slope = .flat) {
            self.entries = entries
            self.start = start
            self.mode = mode
            self.underflow = underflow
            self.overflow = overflow
        }
    }

    public enum Which: Sendable, Hashable { case le, lo }

    public var le: Table
    public var lo: Table
    /// `LUT_CFG.HYBRID_PRIORITY`: the table used when both cover the input.
    public var hitPriority: Which
    /// `LUT_CFG.UFLOW_PRIORITY` / `OFLOW_PRIORITY`: the table extrapolated when neither covers it.
    public var underflowPriority: Which
    public var overflowPriority: Which

    public static let leEntryCount = 65
    public static let loEntryCount = 257

    public init(le: Table, lo: Table, hitPriority: Which = .le, underflowPriority: Which = .lo, overflowPriority: Which = .lo) throws(EngineError) {
        guard le.entries.count == Self.leEntryCount else {
            throw .elementCountMismatch(what: "LUT LE table", expected: Self.leEntryCount, found: le.entries.count)
        }
        guard lo.entries.count == Self.loEntryCount else {
            throw .elementCountMismatch(what: "LUT LO table", expected: Self.loEntryCount, found: lo.entries.count)
        }
        if case .exponential = lo.mode {
            throw .invalidParameter(name: "LUT LO index mode", expected: "linear (only LE supports exponential)", found: "exponential")
        }
        for (name, table) in [("LE", le), ("LO", lo)] {
            try EngineError.require("LUT \(name) underflow slope shift", table.underflow.shift, in: -16...15)
            try EngineError.require("LUT \(name) overflow slope shift", table.overflow.shift, in: -16...15)
            switch table.mode {
            case .linear(let shift): try EngineError.require("LUT \(name) index shift", shift, in: -31...31)
            case .exponential(let offset): try EngineError.require("LUT \(name) exponential index offset", offset, in: -128...127)
            }
        }
        self.le = le
        self.lo = lo
        self.hitPriority = hitPriority
        self.underflowPriority = underflowPriority
        self.overflowPriority = overflowPriority
    }

    enum Lookup: Equatable {
        case hit(Int64)
        case underflow(Int64)
        case overflow(Int64)
    }

    /// The LUT's output for the integer input `x`.
    public func evaluate(_ x: Int64) -> Int64 {
        let fromLE = Self.lookup(le, x)
        let fromLO = Self.lookup(lo, x)
        let value: Int64
        switch (fromLE, fromLO) {
        case let (.hit(a), .hit(b)): value = hitPriority == .le ? a : b
        case let (.hit(a), _): value = a
        case let (_, .hit(b)): value = b
        case let (.underflow(a), .underflow(b)): value = underflowPriority == .le ? a : b
        case let (.overflow(a), .overflow(b)): value = overflowPriority == .le ? a : b
        case let (.underflow(a), .overflow(b)), let (.overflow(a), .underflow(b)):
            // The input falls in a gap between the tables: extrapolate the prioritized one.
            value = hitPriority == .le ? a : b
        }
        return Int64(FixedPoint.saturate(value, to: Int32.min...Int32.max))
    }

    static func lookup(_ table: Table, _ x: Int64) -> Lookup {
        let entries = table.entries
        let last = entries.count - 1
        let (offset, overflowed) = x.subtractingReportingOverflow(table.start)
        if overflowed {
            return x < table.start ? .underflow(Int64(entries[0])) : .overflow(Int64(entries[last]))
        }
        switch table.mode {
        case .linear(let shift):
            if offset < 0 {
                return .underflow(Int64(entries[0]) + table.underflow.apply(offset))
            }
            let index: Int64
            let fraction: Int64
            if shift >= 0 {
                index = offset >> shift
                fraction = offset - (index << shift)
            } else {
                let limit = Int64(last) >> (-shift)
                index = offset > limit ? Int64(last) + 1 : offset << (-shift)
                fraction = 0
            }
            if index >= Int64(last) {
                if index == Int64(last) && fraction == 0 {
                    return .hit(Int64(entries[last]))
                }
                let end = shift >= 0 ? Int64(last) << shift : Int64(last) >> (-shift)
                return .overflow(Int64(entries[last]) + table.overflow.apply(offset - end))
            }
            return .hit(interpolate(entries, Int(index), fraction, bits: max(shift, 0)))
        case .exponential(let indexOffset):
            if offset <= 0 {
                return .underflow(Int64(entries[0]) + table.underflow.apply(offset))
            }
            let exponent = 63 - offset.leadingZeroBitCount
            let index = exponent - indexOffset
            if index < 0 {
                let startValue = indexOffset >= 0 && indexOffset < 63 ? Int64(1) << indexOffset : 0
                return .underflow(Int64(entries[0]) + table.underflow.apply(offset - startValue))
            }
            let fraction = offset - (Int64(1) << exponent)
            if index >= last {
                if index == last && fraction == 0 {
                    return .hit(Int64(entries[last]))
                }
                let endExponent = indexOffset + last
                let end = endExponent >= 0 && endExponent < 63 ? Int64(1) << endExponent : Int64.max
                return .overflow(Int64(entries[last]) + table.overflow.apply(offset - end))
            }
            return .hit(interpolate(entries, index, fraction, bits: exponent))
        }
    }

    private static func interpolate(_ entries: [Int16], _ index: Int, _ fraction: Int64, bits: Int) -> Int64 {
        let low = Int64(entries[index])
        guard fraction != 0 else { return low }
        let delta = Int64(entries[index + 1]) - low
        // |delta| < 2^17 and fraction < 2^62 could overflow; 2^bits ≤ 2^62 so scale the fraction down.
        let drop = max(0, bits - 40)
        let product = delta * (fraction >> drop)
        return low + FixedPoint.roundHalfAwayShiftRight(product, by: bits - drop)
    }
}

extension LookupTable {
    /// A table for an activation `f` (sigmoid, tanh, ...) of inputs in fixed point with
    /// `inputFractionBits` fraction bits; entries are `f(x)·outputScale`. LO (raw) covers
    /// ±2^`loRangeLog2`, LE (density) ±2^`leRangeLog2`; outside, the output stays flat, the
    /// saturating ends of sigmoid and tanh. Requires each table step to be a whole number of input
    /// units: `inputFractionBits + rangeLog2 + 1` ≥ 8 (LO) and ≥ 6 (LE).
    public static func activation(
        _ f: (Double) -> Double, inputFractionBits: Int, outputScale: Double,
        loRangeLog2: Int = 3, leRangeLog2: Int = 1
    ) throws(EngineError) -> LookupTable {
        try EngineError.require("inputFractionBits", inputFractionBits, in: 0...24)
        func table(count: Int, rangeLog2: Int) throws(EngineError) -> Table {
            let stepsLog2 = count == loEntryCount ? 8 : 6
            let shift = inputFractionBits + rangeLog2 + 1 - stepsLog2
            guard shift >= 0 else {
                throw .invalidParameter(name: "LUT range", expected: "at least one input unit per entry", found: "2^\(shift) units per entry")
            }
            let lower = -Double(sign: .plus, exponent: rangeLog2, significand: 1)
            let step = Double(sign: .plus, exponent: rangeLog2 + 1 - stepsLog2, significand: 1)
            let entries = (0..<count).map { i -> Int16 in
                let y = (f(lower + Double(i) * step) * outputScale).rounded(.toNearestOrAwayFromZero)
                return Int16(max(min(y, Double(Int16.max)), Double(Int16.min)))
            }
            let start = -(Int64(1) << (rangeLog2 + inputFractionBits))
            return Table(entries: entries, start: start, mode: .linear(indexShift: shift))
        }
        return try LookupTable(le: table(count: leEntryCount, rangeLog2: leRangeLog2),
                               lo: table(count: loEntryCount, rangeLog2: loRangeLog2),
                               hitPriority: .le, underflowPriority: .lo, overflowPriority: .lo)
    }
}
