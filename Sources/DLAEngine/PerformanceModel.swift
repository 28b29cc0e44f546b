/// Cycles, bytes and energy of each operation on a hardware profile. The model is analytic: it
/// depends on shapes, precision and sparsity, never on how fast the host computed the result.
/// docs/EMULATOR.md derives every formula and cites every constant.
public struct PerformanceModel: Sendable {
    public let profile: HardwareProfile
    public let energy: EnergyTable
    /// Output pixels one weight load into the MAC cells serves (CSC's "stripe": 16–32 atomic
    /// operations, nvdla/doc unit_description.rst, CSC). We take the lower bound.
    public static let stripeLength = 16
    /// Bytes an accumulator entry occupies (34-bit INT / FP44 partial sums rounded to 4 bytes).
    public static let accumulatorEntryBytes = 4

    public init(profile: HardwareProfile, energy: EnergyTable = .horowitz45nm) {
        self.profile = profile
        self.energy = energy
    }

    /// MACs the array completes per cycle in `precision`, or a named error if it cannot.
    public func macsPerCycle(_ precision: Precision) throws(EngineError) -> Int {
        let rate: Int
        switch precision {
        case .int8: rate = profile.capabilities.contains(.int8) ? profile.int8MACsPerCycle : 0
        case .fp16: rate = profile.fp16MACsPerCycle
        case .fp8: rate = profile.fp8MACsPerCycle
        }
        guard rate > 0 else {
            throw .unsupported(unit: "convolution core", capability: "\(precision.rawValue) MACs", profile: profile.name)
        }
        return rate
    }

    /// A convolution (or fully connected layer, `batch` rows) in CDMA → CMAC → CACC.
    ///
    /// - Compute: one atomic operation per cycle, each reducing atomic-C input channels into
    ///   atomic-K output channels (half atomic-K for FP16); channel counts that are not multiples
    ///   waste MAC slots, which utilization reports.
    /// - DRAM: input and weights read once when both fit CBUF; otherwise data is streamed in
    ///   stripes (halo rows re-read) or, when weights do not fit half of CBUF, the input is re-read
    ///   once per weight group. Compressed weights (nv_full) cost nonzeros + a 1-bit mask.
    /// - Zero skipping: effective MACs = MACs × weight density × activation density, packed
    ///   perfectly onto the array (an upper bound on what EIE/SCNN achieve).
    public func convolution(
        _ p: ConvolutionParameters, precision: Precision, batch: Int = 1,
        weightDensity: Double = 1, activationDensity: Double = 1
    ) throws(EngineError) -> OperationCost {
        try convolutionCost(p, precision: precision, batch: batch, weightDensity: weightDensity).cost(activationDensity: activationDensity)
    }

    /// Everything of `convolution` that does not depend on the activation density, so that an
    /// executor computes it once per batch size and only the zero-skipping estimate per run.
    func convolutionCost(
        _ p: ConvolutionParameters, precision: Precision, batch: Int, weightDensity: Double
    ) throws(EngineError) -> ConvolutionCost {
        let g = try p.validated()
        try EngineError.require("batch", batch, in: 1...65536)
        let rate = try macsPerCycle(precision)
        let atomicC = profile.atomicC
        let atomicK = precision == .fp16 ? profile.atomicK / 2 : profile.atomicK
        let eb = precision.bytes
        let cBlocks = (g.channelsPerGroup + atomicC - 1) / atomicC
        let kBlocks = (g.outputChannelsPerGroup + atomicK - 1) / atomicK
        let pixels = g.outputHeight * g.outputWidth * batch
        let atomicOps = p.groups * cBlocks * kBlocks * pixels * p.kernelHeight * p.kernelWidth
        let macs = g.macs * batch
        let utilization = Double(macs) / (Double(atomicOps) * Double(rate))

        let inputBytes = p.inputChannels * p.inputHeight * p.inputWidth * eb * batch
        let denseWeightBytes = p.outputChannels * g.reductionLength * eb
        let nonzeroWeights = Int((Double(p.outputChannels * g.reductionLength) * clamp(weightDensity)).rounded(.up))
        let compressedWeightBytes = nonzeroWeights * eb + (p.outputChannels * g.reductionLength + 7) / 8
        let weightDRAM = profile.capabilities.contains(.weightCompression) ? min(denseWeightBytes, compressedWeightBytes) : denseWeightBytes
        let inputDRAM = tiledInputBytes(p, inputBytes: inputBytes, weightBytes: denseWeightBytes)
        let dram = inputDRAM + weightDRAM
        let dramCycles = ceilDiv(dram, profile.dramBytesPerCycle)
        let computeCycles = atomicOps

        let dataReads = atomicOps * atomicC * eb
        let weightReads = denseWeightBytes * ceilDiv(pixels, Self.stripeLength)
        let cbuf = dram + dataReads + weightReads
        let accumulator = atomicOps * atomicK * Self.accumulatorEntryBytes * 2

        let skippingDRAM = inputDRAM + min(denseWeightBytes, compressedWeightBytes)
        let sram = Double(cbuf + accumulator) * energy.sramPerByte
        let hardwareEnergy = Double(macs) * energy.mac(precision) + sram + Double(dram) * energy.dramPerByte
        let hardware = OperationCost(unit: .convolution, macs: macs, effectiveMACs: 0,
                                     hardwareCycles: max(computeCycles, dramCycles), zeroSkippingCycles: 0,
                                     macUtilization: utilization, dramBytes: dram, cbufBytes: cbuf, accumulatorBytes: accumulator,
                                     energyPicojoules: hardwareEnergy, zeroSkippingEnergyPicojoules: 0)
        return ConvolutionCost(hardware: hardware, weightedMACs: Double(macs) * clamp(weightDensity), rate: rate,
                               skippingDRAMCycles: ceilDiv(skippingDRAM, profile.dramBytesPerCycle), macEnergy: energy.mac(precision),
                               sram: sram, skippingDRAMEnergy: Double(skippingDRAM) * energy.dramPerByte)
    }

    /// SDP over `elements` values of `channels` channels. `fused` input arrives from CACC on the
    /// fly (no DRAM read); otherwise SDP's RDMA reads it, `inputElementBytes` per element (4 for
    /// INT32 accumulators or FP32, 2 for FP16, 1 for INT8 and FP8 codes).
    public func sdp(_ parameters: SDPParameters, elements: Int, channels: Int, fused: Bool, inputElementBytes: Int) throws(EngineError) -> OperationCost {
        try SDP.validate(parameters.stages, profile: profile)
        var elementwise = false
        var operandBytes = 0
        var perElement = energy.multiply32 + energy.add32  // output converter
        for stage in parameters.stages {
            switch stage {
            case .add(let operand), .maximum(let operand), .minimum(let operand):
                operandBytes += bytes(of: operand, channels: channels)
                elementwise = elementwise || operand.isElementwise
                perElement += energy.add32
            case .multiply(let operand, _), .prelu(let operand, _):
                operandBytes += bytes(of: operand, channels: channels)
                elementwise = elementwise || operand.isElementwise
                perElement += energy.multiply32
            case .relu, .clip:
                perElement += energy.add32
            case .lookup:
                // Two 16-bit entries (one 32-bit read), then the interpolation multiply-add.
                perElement += energy.sram32 + energy.multiply32 + energy.add32
            }
        }
        let throughput = elementwise ? profile.sdpElementwiseThroughput : profile.sdpThroughput
        let dram = (fused ? 0 : elements * inputElementBytes) + operandBytes + elements  // INT8 / UINT8 output, one byte each
        let cycles = max(ceilDiv(elements, max(throughput, 1)), ceilDiv(dram, profile.dramBytesPerCycle))
        let joules = Double(elements) * perElement + Double(dram) * energy.dramPerByte
        return OperationCost(unit: .sdp, hardwareCycles: cycles, zeroSkippingCycles: cycles, dramBytes: dram,
                             energyPicojoules: joules, zeroSkippingEnergyPicojoules: joules)
    }

    /// PDP pooling of a `[C, H, W]` INT8 map: every output reads kernel-area taps at the PDP
    /// throughput; input and output cross DRAM once.
    public func pdp(_ p: PDPParameters, channels: Int, height: Int, width: Int) throws(EngineError) -> OperationCost {
        guard profile.capabilities.contains(.pdp) else {
            throw .unsupported(unit: "PDP", capability: "pooling (PDP)", profile: profile.name)
        }
        let (oh, ow) = try p.outputSize(height: height, width: width)
        let outputs = channels * oh * ow
        let taps = outputs * p.kernelHeight * p.kernelWidth
        let dram = channels * height * width + outputs
        let cycles = max(ceilDiv(taps, profile.pdpThroughput), ceilDiv(dram, profile.dramBytesPerCycle))
        let perOutput = p.method == .average ? 2 * energy.multiply32 : 0
        let joules = Double(taps) * energy.add16 + Double(outputs) * perOutput + Double(dram) * energy.dramPerByte
        return OperationCost(unit: .pdp, hardwareCycles: cycles, zeroSkippingCycles: cycles, dramBytes: dram,
                             energyPicojoules: joules, zeroSkippingEnergyPicojoules: joules)
    }

    /// CDP (LRN) over `elements` INT8 values: one element per lane per cycle.
    public func cdp(_ p: CDPParameters, elements: Int) throws(EngineError) -> OperationCost {
        guard profile.capabilities.contains(.cdp) else {
            throw .unsupported(unit: "CDP", capability: "local response normalization (CDP)", profile: profile.name)
        }
        let dram = 2 * elements
        let cycles = max(ceilDiv(elements, profile.cdpThroughput), ceilDiv(dram, profile.dramBytesPerCycle))
        let perElement = Double(p.localSize) * (energy.multiply8 + energy.add32) + energy.sram32 + 2 * energy.multiply32
        let joules = Double(elements) * perElement + Double(dram) * energy.dramPerByte
        return OperationCost(unit: .cdp, hardwareCycles: cycles, zeroSkippingCycles: cycles, dramBytes: dram,
                             energyPicojoules: joules, zeroSkippingEnergyPicojoules: joules)
    }

    /// A RUBIK or BDMA pass over `bytes`: read and written once, bound by the memory interface.
    public func dataMovement(_ unit: ExecutionUnit, bytes: Int) throws(EngineError) -> OperationCost {
        let needed: HardwareProfile.Capabilities = unit == .bdma ? .bdma : .rubik
        guard unit == .bdma || unit == .rubik, profile.capabilities.contains(needed) else {
            throw .unsupported(unit: unit.rawValue, capability: unit == .bdma ? "bridge DMA (BDMA)" : "reshape engine (RUBIK)", profile: profile.name)
        }
        let dram = 2 * bytes
        let cycles = ceilDiv(dram, profile.dramBytesPerCycle)
        let joules = Double(dram) * energy.dramPerByte
        return OperationCost(unit: unit, hardwareCycles: cycles, zeroSkippingCycles: cycles, dramBytes: dram,
                             energyPicojoules: joules, zeroSkippingEnergyPicojoules: joules)
    }

    /// A CPU-fallback operation: no accelerator cycles or bytes; its host time is reported apart.
    public func cpu() -> OperationCost {
        OperationCost(unit: .cpu, hardwareCycles: 0, zeroSkippingCycles: 0, dramBytes: 0,
                      energyPicojoules: 0, zeroSkippingEnergyPicojoules: 0)
    }

    // MARK: - Internals

    /// Input bytes CDMA fetches given CBUF capacity (see `convolution`).
    private func tiledInputBytes(_ p: ConvolutionParameters, inputBytes: Int, weightBytes: Int) -> Int {
        let capacity = profile.cbufBytes
        if inputBytes + weightBytes <= capacity {
            return inputBytes
        }
        let halo = max(0, (p.kernelHeight - 1) * p.dilationY + 1 - p.strideY)
        let rowBytes = max(1, inputBytes / max(p.inputHeight, 1))
        if weightBytes <= capacity / 2 {
            let stripes = ceilDiv(inputBytes, max(capacity - weightBytes, 1))
            return inputBytes + (stripes - 1) * halo * rowBytes
        }
        let weightGroups = ceilDiv(weightBytes, capacity / 2)
        let stripes = ceilDiv(inputBytes, capacity / 2)
        return weightGroups * (inputBytes + (stripes - 1) * halo * rowBytes)
    }

    private func bytes(of operand: SDPOperand, channels: Int) -> Int {
        switch operand {
        case .constant: 0
        case .perChannel: channels * 4
        case .elementwise(let tensor): tensor.count
        }
    }

    private func clamp(_ density: Double) -> Double { density.isNaN ? 1 : min(max(density, 0), 1) }
}

func ceilDiv(_ a: Int, _ b: Int) -> Int { b <= 0 ? a : (a + b - 1) / b }

/// A convolution's cost with the activation density left open: NVDLA's cycles, bytes and energy
/// are fixed by shapes and weights; only the zero-skipping estimate follows the activations.
struct ConvolutionCost: Sendable {
    let hardware: OperationCost
    /// MACs × weight density, the first factor of the effective MACs.
    let weightedMACs: Double
    let rate: Int
    let skippingDRAMCycles: Int
    let macEnergy: Double
    let sram: Double
    let skippingDRAMEnergy: Double

    /// The full cost: effective MACs = MACs × weight density × activation density, packed
    /// perfectly onto the array, bounded below by DRAM time with compressed weights.
    func cost(activationDensity: Double) -> OperationCost {
        let density = activationDensity.isNaN ? 1 : min(max(activationDensity, 0), 1)
        let effective = Int((weightedMACs * density).rounded(.up))
        var cost = hardware
        cost.effectiveMACs = effective
        cost.zeroSkippingCycles = max(ceilDiv(effective, rate), skippingDRAMCycles)
        cost.zeroSkippingEnergyPicojoules = Double(effective) * macEnergy + sram + skippingDRAMEnergy
        return cost
    }
}
