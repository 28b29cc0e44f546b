import DLANumerics

extension ConvolutionCore {
    /// CACC keeps INT16 partial sums in 48 bits (nvdla/hw cmod CACC). A product of two INT16
    /// values is at most 2^30 in magnitude, so 2^17 of them stay within ±2^47: longer reductions
    /// are rejected rather than modelled with wrap-around.
    public static let maximumInt16ReductionLength = 1 << 17

    /// A direct convolution of one `[C, H, W]` INT16 feature map with INT16 weights
    /// `[outputChannels, C / groups, kernelHeight, kernelWidth]` (nv_full's INT16 mode, half the
    /// INT8 MAC rate). Products are summed exactly; CACC then truncates `truncation` low bits with
    /// round half away from zero and saturates to INT32, as for INT8. Padding taps take
    /// `paddingValue` (CDMA `PAD_VALUE`).
    public static func int16(
        input: Tensor<Int16>, weights: Tensor<Int16>, parameters p: ConvolutionParameters,
        paddingValue: Int16 = 0, truncation: Int = 0
    ) throws(EngineError) -> ConvolutionResult {
        let g = try p.validated()
        try EngineError.require("truncation", truncation, in: 0...maximumTruncation)
        let expected = [p.inputChannels, p.inputHeight, p.inputWidth]
        guard input.shape == expected else {
            throw .shapeMismatch(what: "convolution input", expected: expected, found: input.shape)
        }
        let weightShape = [p.outputChannels, g.channelsPerGroup, p.kernelHeight, p.kernelWidth]
        guard weights.shape == weightShape else {
            throw .shapeMismatch(what: "convolution weights", expected: weightShape, found: weights.shape)
        }
        guard g.reductionLength <= maximumInt16ReductionLength else {
            throw .reductionTooLong(length: g.reductionLength, limit: maximumInt16ReductionLength)
        }
        let h = p.inputHeight, w = p.inputWidth, oh = g.outputHeight, ow = g.outputWidth
        var output = [Int32](repeating: 0, count: p.outputChannels * oh * ow)
        var saturated = 0
        for n in 0..<p.outputChannels {
            let group = n / g.outputChannelsPerGroup
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var sum: Int64 = 0
                    for ci in 0..<g.channelsPerGroup {
                        for r in 0..<p.kernelHeight {
                            let iy = oy * p.strideY - p.padTop + r * p.dilationY
                            for s in 0..<p.kernelWidth {
                                let ix = ox * p.strideX - p.padLeft + s * p.dilationX
                                let x = (iy >= 0 && iy < h && ix >= 0 && ix < w)
                                    ? input.scalars[((group * g.channelsPerGroup + ci) * h + iy) * w + ix] : paddingValue
                                sum += Int64(x) * Int64(weights.scalars[((n * g.channelsPerGroup + ci) * p.kernelHeight + r) * p.kernelWidth + s])
                            }
                        }
                    }
                    let rounded = FixedPoint.roundHalfAwayShiftRight(sum, by: truncation)
                    if rounded > Int64(Int32.max) || rounded < Int64(Int32.min) { saturated += 1 }
                    output[(n * oh + oy) * ow + ox] = FixedPoint.saturate(rounded, to: Int32.min...Int32.max)
                }
            }
        }
        return ConvolutionResult(accumulators: try Tensor(shape: [p.outputChannels, oh, ow], scalars: output),
                                 saturatedCount: saturated, strategy: .reference)
    }
}
