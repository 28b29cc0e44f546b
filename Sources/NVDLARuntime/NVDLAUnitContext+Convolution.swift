import DLAEngine
import DLANumerics
import NVDLALoadable

extension NVDLAUnitContext {
    /// Direct convolution (CDMA → CSC → CMAC → CACC) on DLAEngine's `ConvolutionCore`. The result
    /// (CACC's INT32 after `out_cvt.truncate`) flows to the SDP fused behind it.
    mutating func runConvolution(_ d: FirmwareConvolution, index: Int, name: String, memory: inout NVDLAMemory) throws(NVDLARuntimeError) {
        guard d.mode == .direct else { throw .unsupported(what: "\(name): Winograd convolution (conv_mode 1)") }
        guard d.dataFormat == FirmwareConvolution.featureFormat else {
            throw .unsupported(what: "\(name): image (pixel) input, data_format \(d.dataFormat) (direct convolution of feature cubes is modelled)")
        }
        guard !d.weightsCompressed else { throw .unsupported(what: "\(name): compressed weights (WMB/WGS)") }
        guard d.batch <= 1 else { throw .unsupported(what: "\(name): batch of \(d.batch)") }
        guard !d.inputConverter.enabled, !d.meanFormat else {
            throw .unsupported(what: "\(name): CDMA input converter or mean subtraction (image input only)")
        }
        guard d.outputConverter.scale == 1, d.outputConverter.offset == 0 else {
            throw .invalid(what: name, detail: "out_cvt scale \(d.outputConverter.scale) offset \(d.outputConverter.offset): kmd conv.c requires 1 and 0 (CACC truncates only)")
        }
        guard d.inputPrecision == d.outputPrecision else {
            throw .unsupported(what: "\(name): \(d.inputPrecision) input with \(d.outputPrecision) processing")
        }
        let precision = d.inputPrecision
        let kernels = d.destination.channel
        let p = ConvolutionParameters(
            inputChannels: d.inputChannels, inputHeight: d.inputHeight, inputWidth: d.inputWidth, outputChannels: kernels,
            kernelHeight: d.kernelHeight, kernelWidth: d.kernelWidth, strideY: d.strideY, strideX: d.strideX,
            padTop: d.padTop, padBottom: d.padBottom, padLeft: d.padLeft, padRight: d.padRight,
            dilationY: d.dilationY, dilationX: d.dilationX)
        let geometry = try engine(name) { () throws(EngineError) in try p.validated() }
        guard geometry.outputHeight == d.outputHeight, geometry.outputWidth == d.outputWidth,
              d.kernelChannels == d.inputChannels, d.source.channel == d.inputChannels,
              d.source.height == d.inputHeight, d.source.width == d.inputWidth else {
            throw .invalid(what: name, detail: "output \(d.outputWidth)×\(d.outputHeight) and input cube \(d.source.channel)×\(d.source.height)×\(d.source.width) do not match a \(d.kernelWidth)×\(d.kernelHeight) convolution of \(d.inputChannels)×\(d.inputHeight)×\(d.inputWidth) (expected output \(geometry.outputWidth)×\(geometry.outputHeight))")
        }
        let w = try weights(d, precision: precision, kernels: kernels, memory: memory, name: name)
        if precision == .fp16 {
            let x = try floatInput(d.source, memory: memory, name: name)
            let out = try engine(name) { () throws(EngineError) in
                let kernelsTensor = try Tensor(shape: [kernels, d.inputChannels, d.kernelHeight, d.kernelWidth],
                                               scalars: w.map { FP16.decode(UInt16(truncatingIfNeeded: $0)) })
                return try ConvolutionCore.float(input: x, weights: kernelsTensor, parameters: p, atomicC: profile.atomicC)
            }
            try floatOutput(out, to: d.destination, memory: &memory, name: name)
            let cost = try engine(name) { () throws(EngineError) in try model.convolution(p, precision: .fp16) }
            record(index, "CONV FP16 \(d.kernelWidth)×\(d.kernelHeight) \(d.inputChannels)→\(kernels)", cost)
            return
        }
        let x = try input(d.source, precision: precision, memory: memory, name: name)
        let truncation = Int(d.outputConverter.truncate)
        let result = try engine(name) { () throws(EngineError) -> ConvolutionResult in
            if precision == .int8 {
                let values = try Int8ConvolutionWeights(outputChannels: kernels, reductionLength: geometry.reductionLength,
                                                        values: w.map { Int8(truncatingIfNeeded: $0) })
                let planes = try Tensor(shape: x.shape, scalars: x.scalars.map { Int8(truncatingIfNeeded: $0) })
                return try ConvolutionCore.int8(input: planes, weights: values, parameters: p,
                                                paddingValue: Int8(truncatingIfNeeded: d.padValue), truncation: truncation)
            }
            let planes = try Tensor(shape: x.shape, scalars: x.scalars.map { Int16(truncatingIfNeeded: $0) })
            let kernelsTensor = try Tensor(shape: [kernels, d.inputChannels, d.kernelHeight, d.kernelWidth], scalars: w.map { Int16(truncatingIfNeeded: $0) })
            return try ConvolutionCore.int16(input: planes, weights: kernelsTensor, parameters: p, paddingValue: d.padValue, truncation: truncation)
        }
        try output(result.accumulators, to: d.destination, precision: precision, memory: &memory, name: name)
        let cost = try engine(name) { () throws(EngineError) in
            try model.convolution(p, precision: precision == .int8 ? .int8 : .fp16)
        }
        record(index, "CONV \(precision) \(d.kernelWidth)×\(d.kernelHeight) \(d.inputChannels)→\(kernels)", cost)
    }

    /// Uncompressed direct-convolution weights as `[K, C, R, S]`, read in the order CSC streams
    /// them (nvdla/hw cmod `NV_NVDLA_csc.cpp`, `SendWeightToMacSequencerDirectConvCommon`):
    /// kernel groups of atomic-K kernels (half for INT16/FP16), then blocks of atomic-C channels,
    /// then kernel positions (row by row), then the kernels of the group, each an atom of the
    /// block's channels (the last block holds only the remaining channels).
    func weights(_ d: FirmwareConvolution, precision: FirmwarePrecision, kernels: Int, memory: NVDLAMemory,
                 name: String) throws(NVDLARuntimeError) -> [Int32] {
        let es = precision.bytes
        let c = d.kernelChannels, r = d.kernelHeight, s = d.kernelWidth
        let atomC = profile.atomicC
        let perGroup = precision == .int8 ? profile.atomicK : profile.atomicK / 2
        let bytesPerKernel = r * s * c * es
        guard Int(d.bytesPerKernel) == bytesPerKernel else {
            throw .invalid(what: name, detail: "bytes_per_kernel \(d.bytesPerKernel) differs from \(s)×\(r)×\(c)×\(es) = \(bytesPerKernel)")
        }
        guard d.weights.memoryType == .dram else { throw .unsupported(what: "\(name): weights outside DRAM") }
        let total = bytesPerKernel * kernels
        let place = try memory.locate(taskIndex: Int(d.weights.address), offset: Int(d.weights.offset), length: total, what: "\(name) weights")
        let bytes = memory.read(memory: place.memory, offset: place.offset, count: total)
        let base = bytes.startIndex
        let blocks = (c + atomC - 1) / atomC
        let cripple = c % atomC
        let groups = (kernels + perGroup - 1) / perGroup
        var out = [Int32](repeating: 0, count: kernels * c * r * s)
        for k in 0..<kernels {
            let group = k / perGroup, ki = k % perGroup
            let inGroup = group == groups - 1 && kernels % perGroup != 0 ? kernels % perGroup : perGroup
            for ch in 0..<c {
                let block = ch / atomC
                let atom = (block == blocks - 1 && cripple != 0 ? cripple : atomC) * es
                for y in 0..<r {
                    for x in 0..<s {
                        let o = base + group * bytesPerKernel * perGroup + block * atomC * es * r * s * inGroup
                            + (y * s + x) * atom * inGroup + ki * atom + (ch % atomC) * es
                        out[((k * c + ch) * r + y) * s + x] = es == 1
                            ? Int32(Int8(bitPattern: bytes[o]))
                            : Int32(Int16(bitPattern: UInt16(bytes[o]) | UInt16(bytes[o + 1]) << 8))
                    }
                }
            }
        }
        return out
    }
}
