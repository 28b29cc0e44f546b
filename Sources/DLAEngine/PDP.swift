import CDLAKernels
import DLANumerics

/// The planar data processor: max, min and average pooling over each channel's plane.
///
/// Averages multiply by the 17-bit reciprocal registers `RECIP_KERNEL_WIDTH/HEIGHT` (value × 2^16)
/// the driver programs as ⌊2^16 / k⌋ (nvdla/sw kmd `pdp.c`, table `recip_kernel_size`: 0x10000,
/// 0x8000, 0x5555, …), width first, each product rounded half away from zero back to an integer
/// (nvdla/hw cmod `NV_NVDLA_pdp.cpp`, `PoolingStage1Calc`):
/// `t = round(sum·rw / 2^16)`, `out = round(t·rh / 2^16)`. The divisor is always the full kernel:
/// padded taps count with `paddingValue`.
public enum PDP {
    /// ⌊2^16 / k⌋, the INT8/INT16 reciprocal register value for a kernel side `k` (1...8).
    public static func reciprocal(_ k: Int) -> Int64 { Int64(65536 / max(k, 1)) }

    /// Pools a `[C, H, W]` INT8 feature map; results saturate to INT8.
    public static func run(_ input: Tensor<Int8>, _ p: PDPParameters, profile: HardwareProfile) throws(EngineError) -> Tensor<Int8> {
        guard profile.capabilities.contains(.pdp) else {
            throw .unsupported(unit: "PDP", capability: "pooling (PDP)", profile: profile.name)
        }
        let (channels, height, width) = try input.featureMapDimensions("PDP input")
        let (oh, ow) = try p.outputSize(height: height, width: width)
        let rw = reciprocal(p.kernelWidth), rh = reciprocal(p.kernelHeight)
        var output = [Int8](repeating: 0, count: channels * oh * ow)
        for c in 0..<channels {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var sum: Int64 = 0
                    var best: Int64? = nil
                    for r in 0..<p.kernelHeight {
                        let iy = oy * p.strideY - p.padTop + r
                        for s in 0..<p.kernelWidth {
                            let ix = ox * p.strideX - p.padLeft + s
                            guard iy >= 0, iy < height, ix >= 0, ix < width else {
                                sum += Int64(p.paddingValue)
                                continue
                            }
                            let x = Int64(input.scalars[(c * height + iy) * width + ix])
                            sum += x
                            switch p.method {
                            case .maximum: best = max(best ?? x, x)
                            case .minimum: best = min(best ?? x, x)
                            case .average: break
                            }
                        }
                    }
                    let value: Int64
                    if p.method == .average {
                        let widthStep = FixedPoint.roundHalfAwayShiftRight(sum * rw, by: 16)
                        value = FixedPoint.roundHalfAwayShiftRight(widthStep * rh, by: 16)
                    } else {
                        // A window entirely in padding (possible only with pad ≥ kernel) yields the pad value.
                        value = best ?? Int64(p.paddingValue)
                    }
                    output[(c * oh + oy) * ow + ox] = Int8(FixedPoint.saturate(value, to: -128...127))
                }
            }
        }
        return try Tensor(shape: [channels, oh, ow], scalars: output)
    }
}

extension PDP {
    /// Max or min pooling of a batch `[N, C, H, W]` in one C pass when no window touches padding
    /// (the common case: kernel = stride, no padding); nil otherwise, and for averages. Same bits
    /// as `run` per sample (tested); the caller has checked the profile has PDP.
    static func runUnpaddedBatch(_ input: Tensor<Int8>, _ p: PDPParameters) throws(EngineError) -> Tensor<Int8>? {
        guard p.method != .average, p.padTop == 0, p.padLeft == 0, input.shape.count == 4 else { return nil }
        let (batch, channels, height, width) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (oh, ow) = try p.outputSize(height: height, width: width)
        guard oh >= 1, ow >= 1, (oh - 1) * p.strideY + p.kernelHeight <= height, (ow - 1) * p.strideX + p.kernelWidth <= width else {
            return nil
        }
        let count = batch * channels * oh * ow
        let output = input.scalars.withUnsafeBufferPointer { source in
            [Int8](unsafeUninitializedCapacity: count) { target, initialized in
                dla_pool_s8(Int64(batch * channels), Int64(height), Int64(width), Int64(p.kernelHeight), Int64(p.kernelWidth),
                            Int64(p.strideY), Int64(p.strideX), Int64(oh), Int64(ow), p.method == .minimum ? 1 : 0,
                            source.baseAddress, target.baseAddress)
                initialized = count
            }
        }
        return try Tensor(shape: [batch, channels, oh, ow], scalars: output)
    }

    /// Padded max or min pooling of a batch `[N, C, H, W]`: max and min ignore padded taps unless a
    /// window lies wholly in padding, so the planes are copied into a border of the method's
    /// identity (−128 for max, 127 for min) and pooled unpadded (`poolPadded`). nil when some window
    /// lies wholly in padding (it yields the pad value), for averages and when nothing is padded.
    /// Same bits as `run` per sample (tested).
    static func runPaddedBatch(_ input: Tensor<Int8>, _ p: PDPParameters) throws(EngineError) -> Tensor<Int8>? {
        guard input.shape.count == 4 else { return nil }
        let (batch, channels, height, width) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (oh, ow) = try p.outputSize(height: height, width: width)
        guard let plane = paddedPlane(p, height: height, width: width, outputHeight: oh, outputWidth: ow) else { return nil }
        let planes = batch * channels
        let scratch = UnsafeMutablePointer<Int8>.allocate(capacity: planes * plane.height * plane.width)
        defer { scratch.deallocate() }
        let output = input.scalars.withUnsafeBufferPointer { source in
            [Int8](unsafeUninitializedCapacity: planes * oh * ow) { target, initialized in
                poolPadded(source.baseAddress!, planes: planes, height: height, width: width, p, outputHeight: oh, outputWidth: ow,
                           scratch: scratch, into: target.baseAddress!)
                initialized = planes * oh * ow
            }
        }
        return try Tensor(shape: [batch, channels, oh, ow], scalars: output)
    }

    /// Input bytes below which padded pooling stays on one thread.
    static let minimumBytesPerThread = 262_144

    /// The padded plane `poolPadded` pools (`(oh − 1)·stride + kernel` per axis), or nil when it
    /// does not apply: averages, nothing padded, or a window wholly in padding.
    static func paddedPlane(_ p: PDPParameters, height: Int, width: Int, outputHeight oh: Int, outputWidth ow: Int) -> (height: Int, width: Int)? {
        // Window starts grow with the output index: the first and last windows touching real data
        // along each axis means every window does.
        guard p.method != .average, p.padTop > 0 || p.padLeft > 0 || p.padBottom > 0 || p.padRight > 0,
              oh >= 1, ow >= 1, p.padTop < p.kernelHeight, p.padLeft < p.kernelWidth,
              (oh - 1) * p.strideY - p.padTop < height, (ow - 1) * p.strideX - p.padLeft < width else { return nil }
        return ((oh - 1) * p.strideY + p.kernelHeight, (ow - 1) * p.strideX + p.kernelWidth)
    }

    /// Max or min pooling of `planes` planes whose `paddedPlane` is non-nil: each is copied into
    /// `scratch` (planes × its padded size) inside a border of the method's identity, then pooled
    /// by the unpadded C kernel into `output`.
    static func poolPadded(_ input: UnsafePointer<Int8>, planes: Int, height: Int, width: Int, _ p: PDPParameters,
                           outputHeight oh: Int, outputWidth ow: Int, scratch: UnsafeMutablePointer<Int8>, into output: UnsafeMutablePointer<Int8>) {
        let paddedHeight = (oh - 1) * p.strideY + p.kernelHeight, paddedWidth = (ow - 1) * p.strideX + p.kernelWidth
        let identity: Int8 = p.method == .maximum ? .min : .max
        scratch.update(repeating: identity, count: planes * paddedHeight * paddedWidth)
        // Real columns that land inside the padded plane: ix = x − padLeft for x in 0..<paddedWidth.
        let columns = max(0, min(width, paddedWidth - p.padLeft))
        for plane in 0..<planes {
            for y in 0..<paddedHeight {
                let iy = y - p.padTop
                guard iy >= 0, iy < height, columns > 0 else { continue }
                (scratch + (plane * paddedHeight + y) * paddedWidth + p.padLeft).update(from: input + (plane * height + iy) * width, count: columns)
            }
        }
        dla_pool_s8(Int64(planes), Int64(paddedHeight), Int64(paddedWidth), Int64(p.kernelHeight), Int64(p.kernelWidth),
                    Int64(p.strideY), Int64(p.strideX), Int64(oh), Int64(ow), p.method == .minimum ? 1 : 0, scratch, output)
    }

    /// Pooling on the FP16/FP8 pipeline, in FP32 (values already decoded): max/min ignore
    /// padding; averages divide the window sum (padded taps count as 0) by the full kernel area in
    /// Float64, then round to FP32. NVDLA's FP17 reciprocal arithmetic is not emulated; the caller
    /// rounds the result to the output type.
    public static func runFloat(_ input: Tensor<Float>, _ p: PDPParameters, profile: HardwareProfile) throws(EngineError) -> Tensor<Float> {
        guard profile.capabilities.contains(.pdp) else {
            throw .unsupported(unit: "PDP", capability: "pooling (PDP)", profile: profile.name)
        }
        let (channels, height, width) = try input.featureMapDimensions("PDP input")
        let (oh, ow) = try p.outputSize(height: height, width: width)
        var output = [Float](repeating: 0, count: channels * oh * ow)
        for c in 0..<channels {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var sum = 0.0
                    var best: Float? = nil
                    for r in 0..<p.kernelHeight {
                        let iy = oy * p.strideY - p.padTop + r
                        for s in 0..<p.kernelWidth {
                            let ix = ox * p.strideX - p.padLeft + s
                            guard iy >= 0, iy < height, ix >= 0, ix < width else { continue }
                            let x = input.scalars[(c * height + iy) * width + ix]
                            sum += Double(x)
                            switch p.method {
                            case .maximum: best = max(best ?? x, x)
                            case .minimum: best = min(best ?? x, x)
                            case .average: break
                            }
                        }
                    }
                    output[(c * oh + oy) * ow + ox] = p.method == .average
                        ? Float(sum / Double(p.kernelHeight * p.kernelWidth)) : (best ?? 0)
                }
            }
        }
        return try Tensor(shape: [channels, oh, ow], scalars: output)
    }
}
