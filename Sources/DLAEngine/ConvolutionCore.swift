import CDLAKernels
import DLANumerics

/// How the host computes a convolution. Every strategy yields the same bits; they differ only in
/// speed (and in the zero-skipping work a stats report can quote).
public enum ConvolutionStrategy: String, Sendable, CaseIterable {
    /// Plain Swift loops: the twin every optimized path is tested against.
    case reference
    /// Dense INT8 in C (VNNI / AVX2 / portable): the direct convolution on packed weights (one
    /// group), im2col + GEMM otherwise and for fully connected layers.
    case dense
    /// Per-output-channel nonzero weights (EIE's layout), dense activations.
    case sparseWeights
    /// Gather nonzero activations once per output pixel; accumulate only their weight rows.
    case skipZeroActivations
    /// Both: visit only nonzero weights of nonzero activations (EIE).
    case sparseWeightsAndActivations
}

/// CACC's output: INT32 partial sums after truncation, in `[outputChannels, outputHeight,
/// outputWidth]` (convolution) or `[batch, outputFeatures]` (fully connected).
public struct ConvolutionResult: Sendable {
    public var accumulators: Tensor<Int32>
    /// Outputs CACC clamped to INT32 (NVDLA counts them in `D_OUT_SATURATION`).
    public var saturatedCount: Int
    public var strategy: ConvolutionStrategy
}

/// The convolution pipeline CDMA → CBUF → CSC → CMAC → CACC.
///
/// INT8: products of INT8 data and INT8 weights summed exactly; CACC keeps 34 bits for INT8
/// (nvdla/doc unit_description.rst, CACC), which no sum can exceed because reductions are limited
/// to `maximumReductionLength`. CACC then truncates `truncation` low bits, rounding half away from
/// zero, and saturates to INT32 (nvdla/doc precision.rst, "Truncate": `saturate_round(x[msb:lsb])`;
/// register `CACC_D_CLIP_CFG.CLIP_TRUNCATE`, 5 bits).
///
/// Input zero points are handled as the hardware does: padding takes the value of the input's zero
/// point (CDMA `PAD_VALUE`, precision.rst "valued padding"), and the per-channel term offset·ΣW is
/// removed later by SDP's bias (`zeroPointCompensation` computes it for the compiler to fold).
///
/// FP16/FP8: products are exact in FP32 (at most 11 + 11 significant bits) and summed in Float64 in
/// the order the atomic operations define: for each block of `atomicC` input channels, for each
/// kernel row and column, the block's products are summed, then added to the accumulator. NVDLA
/// keeps FP16 sums in FP44; Float64 in a fixed order is our stand-in. CACC hands SDP an FP32.
public enum ConvolutionCore {
    /// 34-bit CACC: 2^19 products of magnitude ≤ 2^14 stay within ±2^33.
    public static let maximumReductionLength = 1 << 19
    /// `CLIP_TRUNCATE` is a 5-bit register.
    public static let maximumTruncation = 31

    // MARK: INT8

    /// A direct convolution of one `[C, H, W]` INT8 feature map. `strategy` nil chooses by sparsity;
    /// `threads` > 1 splits a large direct convolution over host threads (same bits).
    public static func int8(
        input: Tensor<Int8>, weights: Int8ConvolutionWeights, parameters: ConvolutionParameters,
        paddingValue: Int8 = 0, truncation: Int = 0, strategy: ConvolutionStrategy? = nil, threads: Int = 1
    ) throws(EngineError) -> ConvolutionResult {
        let geometry = try check(input: input, weights: weights, parameters: parameters, truncation: truncation)
        let pixels = geometry.outputHeight * geometry.outputWidth
        let chosen = strategy ?? automaticStrategy(weights: weights, activations: input.scalars, rows: pixels, groups: parameters.groups)
        let shape = [parameters.outputChannels, geometry.outputHeight, geometry.outputWidth]
        if chosen == .reference {
            return try reference(input: input, weights: weights, parameters: parameters, geometry: geometry,
                                 paddingValue: paddingValue, truncation: truncation)
        }
        let k = geometry.reductionLength
        let perGroup = geometry.outputChannelsPerGroup
        // Every element of `output` is written below (transposition or CACC).
        var output = [Int32](unsafeUninitializedCapacity: parameters.outputChannels * pixels) { _, count in
            count = parameters.outputChannels * pixels
        }
        var saturated = 0
        if k <= Int(DLA_MAX_EXACT_K) {
            let scratch = UnsafeMutableRawPointer.allocate(
                byteCount: scratchBytes(parameters: parameters, geometry: geometry, weights: weights, strategy: chosen), alignment: 64)
            defer { scratch.deallocate() }
            input.scalars.withUnsafeBufferPointer { x in
                output.withUnsafeMutableBufferPointer { out in
                    exactImage(x.baseAddress!, weights: weights, parameters: parameters, geometry: geometry, paddingValue: paddingValue,
                               truncation: truncation, strategy: chosen, threads: threads, scratch: scratch, into: out.baseAddress!)
                }
            }
        } else {
            var patches = [Int8](unsafeUninitializedCapacity: pixels * k) { _, count in count = pixels * k }
            for group in 0..<parameters.groups {
                input.scalars.withUnsafeBufferPointer { x in
                    patches.withUnsafeMutableBufferPointer { target in
                        im2col(x.baseAddress!, parameters: parameters, geometry: geometry, group: group, paddingValue: paddingValue,
                               into: target.baseAddress!)
                    }
                }
                let sums = longProducts(patches: patches, rows: pixels, weights: weights, channels: group * perGroup..<(group + 1) * perGroup)
                for m in 0..<pixels {
                    for j in 0..<perGroup {
                        output[(group * perGroup + j) * pixels + m] = cacc(sums[m * perGroup + j], truncation: truncation, saturated: &saturated)
                    }
                }
            }
        }
        return ConvolutionResult(accumulators: try Tensor(shape: shape, scalars: output), saturatedCount: saturated,
                                 strategy: k <= Int(DLA_MAX_EXACT_K) ? chosen : .dense)
    }

    /// Scratch bytes `exactImage` needs for one image with `strategy` (nil: whichever
    /// `automaticStrategy` may pick): the direct kernel's prepared input, or the GEMM's
    /// `[pixel][channel]` block of one group and its im2col patches.
    static func scratchBytes(parameters: ConvolutionParameters, geometry: ConvolutionParameters.Geometry,
                             weights: Int8ConvolutionWeights, strategy: ConvolutionStrategy?) -> Int {
        let pixels = geometry.outputHeight * geometry.outputWidth
        let im2col = (pixels * geometry.outputChannelsPerGroup * 4 + 63) / 64 * 64 + pixels * geometry.reductionLength
        guard weights.packedForDirectConvolution(parameters) else { return im2col }
        let direct = DirectLayout(parameters, geometry).scratchBytes
        // `automaticStrategy` takes `dense` for several output pixels unless weights are very sparse.
        let alwaysDense = strategy == .dense || (strategy == nil && pixels > 1 && weights.density > 0.05)
        return alwaysDense ? direct : max(direct, im2col)
    }

    /// The fast strategies of one `[C, H, W]` image between caller buffers: `scratch` holds
    /// `scratchBytes` for `strategy` on a 64-byte boundary, `output` receives
    /// `[outputChannels][pixels]` accumulators. The callers check the input's shape, that
    /// reductionLength ≤ DLA_MAX_EXACT_K (sums exact in Int32: truncation cannot saturate) and that
    /// `strategy` is not `.reference`. `threads` > 1 splits a large direct convolution.
    static func exactImage(
        _ input: UnsafePointer<Int8>, weights: Int8ConvolutionWeights, parameters: ConvolutionParameters,
        geometry: ConvolutionParameters.Geometry, paddingValue: Int8, truncation: Int, strategy: ConvolutionStrategy, threads: Int = 1,
        scratch: UnsafeMutableRawPointer, into output: UnsafeMutablePointer<Int32>
    ) {
        if strategy == .dense, weights.packedForDirectConvolution(parameters) {
            directImage(input, weights: weights, parameters: parameters, geometry: geometry, paddingValue: paddingValue,
                        truncation: truncation, threads: threads, scratch: scratch, into: output)
            return
        }
        let pixels = geometry.outputHeight * geometry.outputWidth
        let perGroup = geometry.outputChannelsPerGroup
        let blockBytes = (pixels * perGroup * 4 + 63) / 64 * 64
        let block = scratch.bindMemory(to: Int32.self, capacity: pixels * perGroup)
        let patches = (scratch + blockBytes).bindMemory(to: Int8.self, capacity: pixels * geometry.reductionLength)
        for group in 0..<parameters.groups {
            im2col(input, parameters: parameters, geometry: geometry, group: group, paddingValue: paddingValue, into: patches)
            exactProducts(patches: patches, rows: pixels, weights: weights, channels: group * perGroup..<(group + 1) * perGroup,
                          strategy: strategy, into: block)
            // [pixel][channel] → [channel][pixel], CACC's truncation on the way.
            dla_transpose_truncate_s32(Int64(pixels), Int64(perGroup), block, output + group * perGroup * pixels, Int64(pixels), Int32(truncation))
        }
    }

    /// The direct kernel's view of one image: the input padded (from (−padTop, −padLeft) to the
    /// last tap any output reads) in NHWC with channels padded to 4, and each tap's byte offset.
    struct DirectLayout {
        let channelsPadded: Int
        let paddedHeight: Int
        let paddedWidth: Int
        let taps: Int
        /// Tap offsets (Int64 each) first, then the prepared input, both 64-byte aligned.
        var offsetBytes: Int { (taps * 8 + 63) / 64 * 64 }
        var scratchBytes: Int { offsetBytes + paddedHeight * paddedWidth * channelsPadded }

        init(_ p: ConvolutionParameters, _ g: ConvolutionParameters.Geometry) {
            channelsPadded = (p.inputChannels + 3) / 4 * 4
            paddedHeight = (g.outputHeight - 1) * p.strideY + (p.kernelHeight - 1) * p.dilationY + 1
            paddedWidth = (g.outputWidth - 1) * p.strideX + (p.kernelWidth - 1) * p.dilationX + 1
            taps = p.kernelHeight * p.kernelWidth
        }
    }

    /// Output MACs below which a convolution stays on one thread: waking another costs more.
    static let minimumMACsPerThread = 2_000_000

    /// The direct convolution (`dla_conv_s8_direct`) of one image; with `threads` > 1 and enough
    /// work, threads take disjoint output channel blocks (when each gets at least 64 channels) or
    /// disjoint runs of output pixels.
    private static func directImage(
        _ input: UnsafePointer<Int8>, weights: Int8ConvolutionWeights, parameters p: ConvolutionParameters,
        geometry g: ConvolutionParameters.Geometry, paddingValue: Int8, truncation: Int, threads: Int,
        scratch: UnsafeMutableRawPointer, into output: UnsafeMutablePointer<Int32>
    ) {
        let layout = DirectLayout(p, g)
        let offsets = scratch.bindMemory(to: Int64.self, capacity: layout.taps)
        for r in 0..<p.kernelHeight {
            for s in 0..<p.kernelWidth {
                offsets[r * p.kernelWidth + s] = Int64((r * p.dilationY * layout.paddedWidth + s * p.dilationX) * layout.channelsPadded)
            }
        }
        let prepared = (scratch + layout.offsetBytes).bindMemory(to: UInt8.self, capacity: layout.scratchBytes - layout.offsetBytes)
        dla_conv_prepare_input(Int64(p.inputChannels), Int64(p.inputHeight), Int64(p.inputWidth), Int64(p.padTop), Int64(p.padLeft),
                               Int64(layout.paddedHeight), Int64(layout.paddedWidth), Int64(layout.channelsPadded), paddingValue,
                               input, prepared)
        let pixels = g.outputHeight * g.outputWidth
        var plan = dla_conv_plan(channels_padded: Int64(layout.channelsPadded), padded_width: Int64(layout.paddedWidth),
                                 out_width: Int64(g.outputWidth), stride_y: Int64(p.strideY), stride_x: Int64(p.strideX),
                                 taps: Int64(layout.taps), tap_offsets: offsets, out_channels: Int64(p.outputChannels),
                                 channel_stride: Int64(pixels), pixel_stride: 1, truncation: Int32(truncation))
        let blocks = (p.outputChannels + 15) / 16
        let parts = max(1, min(threads, g.macs / minimumMACsPerThread))
        let packed = weights.packed
        weights.rowSums.withUnsafeBufferPointer { sums in
            withUnsafePointer(to: &plan) { plan in
                guard parts > 1 else {
                    dla_conv_s8_direct(plan, prepared, packed.base, sums.baseAddress!, 0, Int64(blocks), 0, Int64(pixels), output)
                    return
                }
                // Whole groups of four blocks per thread keep the kernel's 64-channel steps.
                let byBlocks = blocks / 4 >= parts
                let units = byBlocks ? (blocks + 3) / 4 : (pixels + 3) / 4
                let plan = UnsafeSendable(plan), sums = UnsafeSendable(sums.baseAddress!), output = UnsafeSendable(output)
                let prepared = UnsafeSendable(prepared)
                HostKernels.parallel(parts) { part in
                    let first = min(units * part / parts * 4, byBlocks ? blocks : pixels)
                    let end = min(units * (part + 1) / parts * 4, byBlocks ? blocks : pixels)
                    if byBlocks {
                        dla_conv_s8_direct(plan.value, prepared.value, packed.base, sums.value, Int64(first), Int64(end), 0, Int64(pixels), output.value)
                    } else {
                        dla_conv_s8_direct(plan.value, prepared.value, packed.base, sums.value, 0, Int64(blocks), Int64(first), Int64(end), output.value)
                    }
                }
            }
        }
    }

    /// A fully connected layer on a batch: `input` is `[batch, inputFeatures]`, the result
    /// `[batch, outputFeatures]`. The same arithmetic as a 1×1 convolution, with the batch as rows.
    public static func int8FullyConnected(
        input: Tensor<Int8>, weights: Int8ConvolutionWeights, truncation: Int = 0,
        strategy: ConvolutionStrategy? = nil
    ) throws(EngineError) -> ConvolutionResult {
        guard input.shape.count == 2, input.shape[1] == weights.reductionLength else {
            throw .shapeMismatch(what: "fully connected input", expected: [input.shape.first ?? 1, weights.reductionLength], found: input.shape)
        }
        try EngineError.require("truncation", truncation, in: 0...maximumTruncation)
        let batch = input.shape[0]
        let n = weights.outputChannels
        let chosen = strategy ?? automaticStrategy(weights: weights, activations: input.scalars, rows: batch, groups: 1)
        if chosen == .reference {
            let sums = referenceProducts(patches: input.scalars, rows: batch, weights: weights, channels: 0..<n)
            return try finish(sums: sums, shape: [batch, n], truncation: truncation, strategy: chosen)
        }
        guard weights.reductionLength <= Int(DLA_MAX_EXACT_K) else {
            let sums = longProducts(patches: input.scalars, rows: batch, weights: weights, channels: 0..<n)
            return try finish(sums: sums, shape: [batch, n], truncation: truncation, strategy: .dense)
        }
        var output = [Int32](repeating: 0, count: batch * n)
        input.scalars.withUnsafeBufferPointer { a in
            output.withUnsafeMutableBufferPointer { c in
                exactFullyConnected(rows: batch, input: a.baseAddress!, weights: weights, truncation: truncation, strategy: chosen, into: c.baseAddress!)
            }
        }
        return ConvolutionResult(accumulators: try Tensor(shape: [batch, n], scalars: output), saturatedCount: 0, strategy: chosen)
    }

    /// The fast strategies of a fully connected layer on raw rows (`rows × reductionLength` bytes
    /// in, `rows × outputChannels` accumulators out), for callers that keep activations in their
    /// own buffers. `strategy` is not `.reference` and reductionLength ≤ DLA_MAX_EXACT_K (the
    /// callers check): the sums are exact in Int32, so CACC's truncation cannot saturate.
    static func exactFullyConnected(rows: Int, input: UnsafePointer<Int8>, weights: Int8ConvolutionWeights, truncation: Int,
                                    strategy: ConvolutionStrategy, into output: UnsafeMutablePointer<Int32>) {
        let n = weights.outputChannels
        exactProducts(patches: input, rows: rows, weights: weights, channels: 0..<n, strategy: strategy, into: output)
        if truncation > 0 {
            for index in 0..<(rows * n) {
                output[index] = truncateExact(output[index], by: truncation)
            }
        }
    }

    /// offset·ΣW per output channel: what an input zero point `inputZeroPoint` adds to every
    /// accumulator of that channel (padding included, as padding carries the zero point). The
    /// compiler subtracts it through SDP's bias, as precision.rst prescribes.
    public static func zeroPointCompensation(weights: Int8ConvolutionWeights, inputZeroPoint: Int32) -> [Int64] {
        weights.rowSums.map { Int64($0) * Int64(inputZeroPoint) }
    }

    /// The strategy `int8` picks when none is given, from host measurements (docs/EMULATOR.md):
    /// one row at a time, skipping zero activations wins once half of them are zero (EIE's
    /// scattered updates only pay off for very sparse weights); for batches the dense VNNI GEMM
    /// wins unless weights are very sparse.
    public static func automaticStrategy(weights: Int8ConvolutionWeights, activations: [Int8], rows: Int, groups: Int) -> ConvolutionStrategy {
        automaticStrategy(weights: weights, activationCount: activations.count, rows: rows, groups: groups) {
            IntegerArithmetic.nonzeroCount(activations)
        }
    }

    /// The same choice with the activations' nonzero count given (asked for only when one row is
    /// to be computed), for callers that count them anyway.
    static func automaticStrategy(weights: Int8ConvolutionWeights, activationCount: Int, rows: Int, groups: Int,
                                  nonzeroCount: () -> Int) -> ConvolutionStrategy {
        guard groups == 1, weights.reductionLength <= Int(DLA_MAX_EXACT_K) else {
            return .dense
        }
        let verySparseWeights = weights.density <= 0.05
        if rows == 1 {
            let zeros = activationCount - nonzeroCount()
            guard zeros * 2 >= activationCount else { return verySparseWeights ? .sparseWeights : .dense }
            return verySparseWeights ? .sparseWeightsAndActivations : .skipZeroActivations
        }
        return verySparseWeights ? .sparseWeights : .dense
    }

    // MARK: FP16 / FP8

    /// A direct convolution on FP16 or FP8 values (already decoded to Float, where they are exact).
    /// Padding is 0 (precision.rst: FP16 carries no offset). `atomicC` fixes the summation order.
    public static func float(
        input: Tensor<Float>, weights: Tensor<Float>, parameters: ConvolutionParameters, atomicC: Int
    ) throws(EngineError) -> Tensor<Float> {
        let geometry = try parameters.validated()
        try EngineError.require("atomicC", atomicC, in: 1...4096)
        let (c, h, w) = try input.featureMapDimensions("convolution input")
        guard c == parameters.inputChannels, h == parameters.inputHeight, w == parameters.inputWidth else {
            throw .shapeMismatch(what: "convolution input", expected: [parameters.inputChannels, parameters.inputHeight, parameters.inputWidth], found: input.shape)
        }
        let weightShape = [parameters.outputChannels, geometry.channelsPerGroup, parameters.kernelHeight, parameters.kernelWidth]
        guard weights.shape == weightShape else {
            throw .shapeMismatch(what: "convolution weights", expected: weightShape, found: weights.shape)
        }
        let oh = geometry.outputHeight, ow = geometry.outputWidth
        let cg = geometry.channelsPerGroup, kh = parameters.kernelHeight, kw = parameters.kernelWidth
        var output = [Float](repeating: 0, count: parameters.outputChannels * oh * ow)
        input.scalars.withUnsafeBufferPointer { x in
            weights.scalars.withUnsafeBufferPointer { wt in
                for n in 0..<parameters.outputChannels {
                    let group = n / geometry.outputChannelsPerGroup
                    for oy in 0..<oh {
                        for ox in 0..<ow {
                            var accumulator = 0.0
                            for blockStart in stride(from: 0, to: cg, by: atomicC) {
                                let blockEnd = min(blockStart + atomicC, cg)
                                for r in 0..<kh {
                                    let iy = oy * parameters.strideY - parameters.padTop + r * parameters.dilationY
                                    for s in 0..<kw {
                                        let ix = ox * parameters.strideX - parameters.padLeft + s * parameters.dilationX
                                        guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                                        var block = 0.0
                                        for ci in blockStart..<blockEnd {
                                            let product = x[((group * cg + ci) * h + iy) * w + ix] * wt[((n * cg + ci) * kh + r) * kw + s]
                                            block += Double(product)
                                        }
                                        accumulator += block
                                    }
                                }
                            }
                            output[(n * oh + oy) * ow + ox] = Float(accumulator)
                        }
                    }
                }
            }
        }
        return try Tensor(shape: [parameters.outputChannels, oh, ow], scalars: output)
    }

    // MARK: - Internals

    private static func check(
        input: Tensor<Int8>, weights: Int8ConvolutionWeights, parameters: ConvolutionParameters, truncation: Int
    ) throws(EngineError) -> ConvolutionParameters.Geometry {
        let geometry = try parameters.validated()
        try EngineError.require("truncation", truncation, in: 0...maximumTruncation)
        let expected = [parameters.inputChannels, parameters.inputHeight, parameters.inputWidth]
        guard input.shape == expected else {
            throw .shapeMismatch(what: "convolution input", expected: expected, found: input.shape)
        }
        guard weights.outputChannels == parameters.outputChannels, weights.reductionLength == geometry.reductionLength else {
            throw .shapeMismatch(what: "convolution weights", expected: [parameters.outputChannels, geometry.reductionLength],
                                 found: [weights.outputChannels, weights.reductionLength])
        }
        guard geometry.reductionLength <= maximumReductionLength else {
            throw .reductionTooLong(length: geometry.reductionLength, limit: maximumReductionLength)
        }
        return geometry
    }

    /// CACC on a wide sum: truncate with round half away from zero, saturate to INT32.
    private static func cacc(_ sum: Int64, truncation: Int, saturated: inout Int) -> Int32 {
        let rounded = FixedPoint.roundHalfAwayShiftRight(sum, by: truncation)
        if rounded > Int64(Int32.max) || rounded < Int64(Int32.min) {
            saturated += 1
        }
        return FixedPoint.saturate(rounded, to: Int32.min...Int32.max)
    }

    /// CACC on a sum already exact in Int32: truncation only shrinks it, so it cannot saturate.
    @inline(__always)
    private static func truncateExact(_ sum: Int32, by truncation: Int) -> Int32 {
        truncation == 0 ? sum : Int32(IntegerArithmetic.roundHalfAwayShiftRight(Int64(sum), by: truncation))
    }

    private static func finish(sums: [Int64], shape: [Int], truncation: Int, strategy: ConvolutionStrategy) throws(EngineError) -> ConvolutionResult {
        var saturated = 0
        let output = sums.map { cacc($0, truncation: truncation, saturated: &saturated) }
        return ConvolutionResult(accumulators: try Tensor(shape: shape, scalars: output), saturatedCount: saturated, strategy: strategy)
    }

    /// One group's receptive fields as rows of `reductionLength` bytes in (c, r, s) order, the order
    /// of the weights; out-of-bounds taps hold `paddingValue`.
    private static func im2col(
        _ input: UnsafePointer<Int8>, parameters p: ConvolutionParameters, geometry g: ConvolutionParameters.Geometry,
        group: Int, paddingValue: Int8, into patches: UnsafeMutablePointer<Int8>
    ) {
        dla_im2col_s8(Int64(g.channelsPerGroup), Int64(p.inputHeight), Int64(p.inputWidth),
                      Int64(p.kernelHeight), Int64(p.kernelWidth), Int64(p.strideY), Int64(p.strideX),
                      Int64(p.padTop), Int64(p.padLeft), Int64(p.dilationY), Int64(p.dilationX),
                      Int64(g.outputHeight), Int64(g.outputWidth), paddingValue,
                      input + group * g.channelsPerGroup * p.inputHeight * p.inputWidth, patches)
    }

    /// `rows × channels.count` sums of `patches` (rows of reductionLength bytes) against the weight
    /// rows in `channels`, written row-major into `out`, through the C kernels. Exact in Int32
    /// because reductionLength ≤ DLA_MAX_EXACT_K (checked by the callers).
    private static func exactProducts(
        patches a: UnsafePointer<Int8>, rows m: Int, weights: Int8ConvolutionWeights, channels: Range<Int>,
        strategy: ConvolutionStrategy, into c: UnsafeMutablePointer<Int32>
    ) {
        let k = weights.reductionLength, n = channels.count, first = channels.lowerBound
        let allChannels = weights.outputChannels
        switch strategy {
        case .reference, .dense:
            if weights.packedAsRows, first % 16 == 0 {
                let groupsOfFour = (k + 3) / 4
                let block = weights.packed.base + (first / 16) * groupsOfFour * 64
                if dla_vnni_packed_available() != 0 {
                    weights.rowSums.withUnsafeBufferPointer { sums in
                        dla_gemm_s8_vnni_packed(Int64(m), Int64(n), Int64(k), a, Int64(k), block, sums.baseAddress! + first, c, Int64(n))
                    }
                    return
                }
                if n % 16 == 0 || first + n == allChannels {
                    // The direct kernel as a 1×1 convolution over the rows: the packed weights
                    // serve every instruction set, so no plain copy is made.
                    let padded = groupsOfFour * 4
                    let prepared = UnsafeMutablePointer<UInt8>.allocate(capacity: max(m * padded, 1))
                    defer { prepared.deallocate() }
                    dla_conv_prepare_rows(Int64(m), Int64(k), Int64(padded), a, Int64(k), prepared)
                    var offset: Int64 = 0
                    withUnsafePointer(to: &offset) { offsets in
                        var plan = dla_conv_plan(channels_padded: Int64(padded), padded_width: Int64(m), out_width: Int64(m),
                                                 stride_y: 1, stride_x: 1, taps: 1, tap_offsets: offsets, out_channels: Int64(n),
                                                 channel_stride: 1, pixel_stride: Int64(n), truncation: 0)
                        weights.rowSums.withUnsafeBufferPointer { sums in
                            dla_conv_s8_direct(&plan, prepared, block, sums.baseAddress! + first, 0, Int64((n + 15) / 16), 0, Int64(m), c)
                        }
                    }
                    return
                }
            }
            weights.values.withUnsafeBufferPointer { b in
                weights.rowSums.withUnsafeBufferPointer { sums in
                    dla_gemm_s8s8s32(Int64(m), Int64(n), Int64(k), a, Int64(k), b.baseAddress! + first * k, Int64(k),
                                     sums.baseAddress! + first, c, Int64(n))
                }
            }
        case .sparseWeights:
            let rows = weights.rows
            rows.start.withUnsafeBufferPointer { start in
                if m == 1 {
                    dla_spmm_csr_s8(1, Int64(n), a, Int64(k), start.baseAddress! + first, rows.index, rows.values, c, Int64(n))
                } else {
                    var transposed = [Int8](repeating: 0, count: k * m)
                    for i in 0..<m {
                        for p in 0..<k { transposed[p * m + i] = a[i * k + p] }
                    }
                    var scratch = [Int32](repeating: 0, count: m)
                    dla_spmm_csr_s8_transposed(Int64(m), Int64(n), transposed, Int64(m), start.baseAddress! + first,
                                               rows.index, rows.values, &scratch, c, Int64(n))
                }
            }
        case .skipZeroActivations:
            var index = [Int32](repeating: 0, count: k)
            weights.transposed.withUnsafeBufferPointer { bt in
                for i in 0..<m {
                    dla_gemv_s8_skip_zero_activations(Int64(k), Int64(n), a + i * k, bt.baseAddress! + first,
                                                      Int64(allChannels), &index, c + i * n)
                }
            }
        case .sparseWeightsAndActivations:
            // The CSC kernel produces every output channel; a group keeps its own slice.
            var row = [Int32](repeating: 0, count: n == allChannels ? 0 : allChannels)
            let columns = weights.columns
            for i in 0..<m {
                if n == allChannels {
                    dla_spmv_csc_s8_skip_zero(Int64(k), Int64(allChannels), a + i * k, columns.start,
                                              columns.index, columns.values, c + i * n)
                } else {
                    dla_spmv_csc_s8_skip_zero(Int64(k), Int64(allChannels), a + i * k, columns.start,
                                              columns.index, columns.values, &row)
                    for j in 0..<n { c[i * n + j] = row[first + j] }
                }
            }
        }
    }

    /// Sums of reductions longer than one exact C call: split into pieces of at most
    /// DLA_MAX_EXACT_K, each exact in Int32, joined in Int64 as the 34-bit CACC holds them.
    private static func longProducts(patches: [Int8], rows m: Int, weights: Int8ConvolutionWeights, channels: Range<Int>) -> [Int64] {
        let k = weights.reductionLength, n = channels.count, first = channels.lowerBound
        let limit = Int(DLA_MAX_EXACT_K), values = weights.values
        var result = [Int64](repeating: 0, count: m * n)
        var block = [Int32](repeating: 0, count: m * n)
        var pieceSums = [Int32](repeating: 0, count: n)
        for piece in stride(from: 0, to: k, by: limit) {
            let length = min(limit, k - piece)
            patches.withUnsafeBufferPointer { a in
                values.withUnsafeBufferPointer { b in
                    let base = b.baseAddress! + first * k + piece
                    dla_s8_row_sums(Int64(n), Int64(length), base, Int64(k), &pieceSums)
                    dla_gemm_s8s8s32(Int64(m), Int64(n), Int64(length), a.baseAddress! + piece, Int64(k),
                                     base, Int64(k), pieceSums, &block, Int64(n))
                }
            }
            for index in result.indices {
                result[index] += Int64(block[index])
            }
        }
        return result
    }

    private static func referenceProducts(patches: [Int8], rows m: Int, weights: Int8ConvolutionWeights, channels: Range<Int>) -> [Int64] {
        let k = weights.reductionLength, values = weights.values
        var result = [Int64](repeating: 0, count: m * channels.count)
        for i in 0..<m {
            for (j, channel) in channels.enumerated() {
                var sum: Int64 = 0
                for p in 0..<k {
                    sum += Int64(patches[i * k + p]) * Int64(values[channel * k + p])
                }
                result[i * channels.count + j] = sum
            }
        }
        return result
    }

    /// The twin: direct loops over the convolution definition, no im2col, no C.
    private static func reference(
        input: Tensor<Int8>, weights: Int8ConvolutionWeights, parameters p: ConvolutionParameters,
        geometry g: ConvolutionParameters.Geometry, paddingValue: Int8, truncation: Int
    ) throws(EngineError) -> ConvolutionResult {
        let h = p.inputHeight, w = p.inputWidth, values = weights.values
        var sums = [Int64](repeating: 0, count: p.outputChannels * g.outputHeight * g.outputWidth)
        for n in 0..<p.outputChannels {
            let group = n / g.outputChannelsPerGroup
            for oy in 0..<g.outputHeight {
                for ox in 0..<g.outputWidth {
                    var sum: Int64 = 0
                    for ci in 0..<g.channelsPerGroup {
                        for r in 0..<p.kernelHeight {
                            for s in 0..<p.kernelWidth {
                                let iy = oy * p.strideY - p.padTop + r * p.dilationY
                                let ix = ox * p.strideX - p.padLeft + s * p.dilationX
                                let x = (iy >= 0 && iy < h && ix >= 0 && ix < w)
                                    ? input.scalars[((group * g.channelsPerGroup + ci) * h + iy) * w + ix] : paddingValue
                                let weight = values[n * g.reductionLength + (ci * p.kernelHeight + r) * p.kernelWidth + s]
                                sum += Int64(x) * Int64(weight)
                            }
                        }
                    }
                    sums[(n * g.outputHeight + oy) * g.outputWidth + ox] = sum
                }
            }
        }
        return try finish(sums: sums, shape: [p.outputChannels, g.outputHeight, g.outputWidth], truncation: truncation, strategy: .reference)
    }
}

/// A value handed to parallel parts (`HostKernels.parallel`): pointers through which each writes a disjoint
/// part of one output, or reads what no one writes meanwhile.
struct UnsafeSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
