import DLANumerics

/// NVDLA's two-level hybrid lookup table, shared by SDP (activations) and CDP (LRN): a 65-entry LE
/// table (linear or exponential index) and a 257-entry LO table (linear index), 16-bit entries,
/// linear interpolation between entries and sloped extrapolation outside the covered range
/// (nvdla/doc lut-programming.rst), bit for bit as nvdla/hw's cmod computes it
/// (`cmod/cdp/NV_NVDLA_cdp.cpp`, `lookup_lut`; checked against NVIDIA's CDP regression goldens).
///
/// Integer semantics. Linear mode: `index = (x − start) >> indexShift` (`indexShift` < 0 shifts
/// left: no fraction); `x ≤ start` underflows, `index ≥ N` (the last entry) overflows. Exponential
/// mode: `index = ⌊log2(x − start)⌋ − indexOffset`; `x ≤ start` or `index < 0` underflows (the
/// extrapolation then starts at `start + 2^indexOffset` when `indexOffset ≥ 0`), `index ≥ N`
/// overflows. A hit interpolates `LUT[i] + round((LUT[i+1] − LUT[i])·f / 2^16)` with the
/// remainder `f` brought to a 16-bit fraction (shifted right or left to 16 bits, low bits
/// dropped). Outside: `LUT[0] + (x − start')·k_underflow`, `LUT[N] + (x − end)·k_overflow` with
/// `k = scale >> shift` (shift > 0, rounded) or `scale << −shift`, the 16-bit scale and 5-bit
/// signed shift of `SLOPE_(UN|OV)ERFLOW_(SCALE|SHIFT)`. Every rounding is half away from zero and
/// each table's result saturates to 16 bits. Both tables are evaluated; the result is the one that
/// hits, the priority one when both underflow (`UFLOW_PRIORITY`), both overflow
/// (`OFLOW_PRIORITY`), or otherwise both or neither hit (`HYBRID_PRIORITY`).
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

        /// `dx·scale` shifted, rounded half away from zero, saturated to the cmod's 56 bits.
        func apply(_ dx: Int64) -> Int64 {
            let limit = (Int64(1) << 55) - 1
            let product = dx.multipliedReportingOverflow(by: Int64(scale))
            guard !product.overflow else { return (dx > 0) == (scale > 0) ? limit : -limit - 1 }
            let value: Int64
            if shift >= 0 {
                value = FixedPoint.roundHalfAwayShiftRight(product.partialValue, by: shift)
            } else {
                let (shifted, overflow) = product.partialValue.multipliedReportingOverflow(by: Int64(1) << min(-shift, 62))
                value = overflow ? (product.partialValue > 0 ? limit : -limit - 1) : shifted
            }
            return min(max(value, -limit - 1), limit)
        }
    }

    public struct Table: Sendable, Hashable {
        public var entries: [Int16]
        public var start: Int64
        public var mode: IndexMode
        public var underflow: Slope
        public var overflow: Slope
        /// `LUT_*_END`: where overflow extrapolation starts. Nil: the end of the entries
        /// (`start + (N << indexShift)`, or `start + 2^(indexOffset + N)` for exponential).
        public var end: Int64?

        public init(entries: [Int16], start: Int64, mode: IndexMode, underflow: Slope = .flat, overflow: Slope = .flat,
                    end: Int64? = nil) {
            self.entries = entries
            self.start = start
            self.mode = mode
            self.underflow = underflow
            self.overflow = overflow
            self.end = end
        }

        var resolvedEnd: Int64 {
            if let end { return end }
            let last = Int64(entries.count - 1)
            let span: Int64
            switch mode {
            case .linear(let shift):
                span = shift >= 0 ? (shift >= 55 ? Int64.max : last << shift) : last >> (-shift)
            case .exponential(let offset):
                let exponent = offset + entries.count - 1
                span = exponent >= 63 ? Int64.max : exponent < 0 ? 0 : Int64(1) << exponent
            }
            let (sum, overflow) = start.addingReportingOverflow(span)
            return overflow ? Int64.max : sum
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

    /// The LUT's output for the integer input `x` (a 16-bit value).
    public func evaluate(_ x: Int64) -> Int64 {
        let fromLE = Self.lookup(le, x)
        let fromLO = Self.lookup(lo, x)
        switch (fromLE, fromLO) {
        case let (.underflow(a), .underflow(b)): return underflowPriority == .le ? a : b
        case let (.overflow(a), .overflow(b)): return overflowPriority == .le ? a : b
        case let (.hit(a), .underflow(_)), let (.hit(a), .overflow(_)): return a
        case let (.underflow(_), .hit(b)), let (.overflow(_), .hit(b)): return b
        case let (.hit(a), .hit(b)), let (.underflow(a), .overflow(b)), let (.overflow(a), .underflow(b)):
            return hitPriority == .le ? a : b
        }
    }

    static func saturate16(_ x: Int64) -> Int64 { min(max(x, Int64(Int16.min)), Int64(Int16.max)) }

    static func lookup(_ table: Table, _ x: Int64) -> Lookup {
        let entries = table.entries
        let last = entries.count - 1
        func underflow(_ dx: Int64) -> Lookup { .underflow(saturate16(Int64(entries[0]) + table.underflow.apply(dx))) }
        func overflow() -> Lookup {
            let (dx, wrapped) = x.subtractingReportingOverflow(table.resolvedEnd)
            return .overflow(saturate16(Int64(entries[last]) + table.overflow.apply(wrapped ? (x > 0 ? Int64.max : Int64.min) : dx)))
        }
        let (offset, wrapped) = x.subtractingReportingOverflow(table.start)
        if wrapped {
            return x < table.start ? underflow(Int64.min) : overflow()
        }
        switch table.mode {
        case .linear(let shift):
            if offset <= 0 { return underflow(offset) }
            let index: Int64
            var fraction: Int64 = 0
            if shift >= 0 {
                index = offset >> shift
                let remainder = offset - (index << shift)
                fraction = shift > 16 ? remainder >> (shift - 16) : remainder << (16 - shift)
            } else {
                index = offset > (Int64(last) >> (-shift)) ? Int64(last) : offset << (-shift)
            }
            if index >= Int64(last) { return overflow() }
            return .hit(interpolate(entries, Int(index), fraction))
        case .exponential(let indexOffset):
            let startValue: Int64 = indexOffset < 0 ? 0 : indexOffset >= 63 ? Int64.max : Int64(1) << indexOffset
            if offset <= 0 { return underflow(offset &- startValue) }
            let exponent = 63 - offset.leadingZeroBitCount
            let index = exponent - indexOffset
            if index < 0 { return underflow(offset - startValue) }
            if index >= last { return overflow() }
            let remainder = offset - (Int64(1) << exponent)
            let fraction = exponent > 16 ? remainder >> (exponent - 16) : remainder << (16 - exponent)
            return .hit(interpolate(entries, index, fraction))
        }
    }

    /// `LUT[i] + round((LUT[i+1] − LUT[i])·fraction / 2^16)`, saturated to 16 bits.
    private static func interpolate(_ entries: [Int16], _ index: Int, _ fraction: Int64) -> Int64 {
        let low = Int64(entries[index])
        let delta = Int64(entries[index + 1]) - low
        return saturate16(low + FixedPoint.roundHalfAwayShiftRight(delta * fraction, by: 16))
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
