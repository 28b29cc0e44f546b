/// Energy per operation, in picojoules (Horowitz, "Computing's energy problem (and what we can do
/// about it)", ISSCC 2014, 45 nm, as quoted in docs/DESIGN.md).
public struct EnergyTable: Sendable, Hashable {
    public var add8: Double
    public var add16: Double
    public var add32: Double
    public var multiply8: Double
    public var multiply32: Double
    public var fp16Add: Double
    public var fp16Multiply: Double
    public var fp32Add: Double
    public var fp32Multiply: Double
    /// One 32-bit read from an 8 KB SRAM; our stand-in for every on-chip buffer access (CBUF,
    /// accumulators), which underestimates CBUF's larger banks.
    public var sram32: Double
    /// One 32-bit DRAM read; writes are charged the same.
    public var dram32: Double

    public static let horowitz45nm = EnergyTable(
        add8: 0.03, add16: 0.05, add32: 0.1, multiply8: 0.2, multiply32: 3.1,
        fp16Add: 0.4, fp16Multiply: 1.1, fp32Add: 0.9, fp32Multiply: 3.7, sram32: 5, dram32: 640)

    /// One multiply-accumulate. INT8: 8-bit multiply + 32-bit add (the CACC sum is ≥ 32 bits).
    /// FP16: FP16 multiply + FP16 add. FP8 (no published figure; our assumption): an 8-bit integer
    /// multiply (a 4-bit significand product is smaller still) + an FP16 add.
    public func mac(_ precision: Precision) -> Double {
        switch precision {
        case .int8: multiply8 + add32
        case .fp16: fp16Multiply + fp16Add
        case .fp8: multiply8 + fp16Add
        }
    }

    public var sramPerByte: Double { sram32 / 4 }
    public var dramPerByte: Double { dram32 / 4 }
}

/// Data types the convolution core computes in.
public enum Precision: String, Sendable, Hashable, CaseIterable {
    case int8, fp16, fp8

    /// Bytes per element in memory.
    public var bytes: Int { self == .fp16 ? 2 : 1 }
}
