import DLANumerics

/// The channel data processor's register set for local response normalization:
/// `y = x · LUT(Σ x²)` over `localSize` neighbouring channels, with converters on the way in and
/// out (`CDP_D_DATIN_*`, `D_LRN_CFG.NORMALZ_LEN`, `D_DATOUT_*`, and the shared LUT).
public struct CDPParameters: Sendable, Hashable {
    /// 3, 5, 7 or 9 channels (`NORMALZ_LEN`).
    public var localSize: Int
    /// `cdp_in_cvt`: applied to every input before squaring, result kept in 16 bits.
    public var inputConverter: OutputConverter
    /// Maps the square sum to `(k + α/n·Σ)^−β` in fixed point.
    public var lookupTable: LookupTable
    /// `cdp_out_cvt`: scales `x·LUT` to the output type.
    public var outputConverter: OutputConverter
    public var outputType: IntegerQuantType
    /// `D_FUNC_BYPASS.SQSUM_BYPASS`: the LUT reads the converted input instead of the square sum.
    public var bypassSquareSum: Bool = false
    /// `D_FUNC_BYPASS.MUL_BYPASS`: the output is the LUT value, not its product with the input.
    public var bypassMultiply: Bool = false

    public init(localSize: Int, inputConverter: OutputConverter = .identity, lookupTable: LookupTable,
                outputConverter: OutputConverter, outputType: IntegerQuantType = .int8) {
        self.localSize = localSize
        self.inputConverter = inputConverter
        self.lookupTable = lookupTable
        self.outputConverter = outputConverter
        self.outputType = outputType
    }
}
