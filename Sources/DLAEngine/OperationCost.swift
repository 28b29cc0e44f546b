/// The hardware unit (or the host) an operation ran on.
public enum ExecutionUnit: String, Sendable, Hashable, CaseIterable {
    case convolution, sdp, pdp, cdp, rubik, bdma, cpu
}

/// What one operation costs the emulated accelerator. Two cycle counts: `hardwareCycles` as NVDLA
/// spends them (it never skips a zero MAC; compression only saves bandwidth), and
/// `zeroSkippingCycles`, what an EIE/SCNN-style unit that skips zero weights and activations would.
public struct OperationCost: Sendable, Hashable {
    public var unit: ExecutionUnit
    /// Useful multiply-accumulates (all of them, zeros included).
    public var macs: Int
    /// MACs with a nonzero weight and a nonzero activation (estimated from densities).
    public var effectiveMACs: Int
    public var hardwareCycles: Int
    public var zeroSkippingCycles: Int
    /// `macs / (compute cycles × MACs per cycle)`; 0 for units without MACs.
    public var macUtilization: Double
    public var dramBytes: Int
    public var cbufBytes: Int
    public var accumulatorBytes: Int
    public var energyPicojoules: Double
    public var zeroSkippingEnergyPicojoules: Double

    public init(unit: ExecutionUnit, macs: Int = 0, effectiveMACs: Int = 0, hardwareCycles: Int, zeroSkippingCycles: Int,
                macUtilization: Double = 0, dramBytes: Int, cbufBytes: Int = 0, accumulatorBytes: Int = 0,
                energyPicojoules: Double, zeroSkippingEnergyPicojoules: Double) {
        self.unit = unit
        self.macs = macs
        self.effectiveMACs = effectiveMACs
        self.hardwareCycles = hardwareCycles
        self.zeroSkippingCycles = zeroSkippingCycles
        self.macUtilization = macUtilization
        self.dramBytes = dramBytes
        self.cbufBytes = cbufBytes
        self.accumulatorBytes = accumulatorBytes
        self.energyPicojoules = energyPicojoules
        self.zeroSkippingEnergyPicojoules = zeroSkippingEnergyPicojoules
    }

    /// Seconds at `profile`'s clock.
    public func latencySeconds(on profile: HardwareProfile) -> Double {
        Double(hardwareCycles) / profile.clockHertz
    }

    /// The sum of several operations' costs (utilization weighted by compute).
    public static func total(_ costs: some Sequence<OperationCost>, unit: ExecutionUnit = .convolution) -> OperationCost {
        var total = OperationCost(unit: unit, hardwareCycles: 0, zeroSkippingCycles: 0, dramBytes: 0,
                                  energyPicojoules: 0, zeroSkippingEnergyPicojoules: 0)
        var slots = 0.0
        for cost in costs {
            total.macs += cost.macs
            total.effectiveMACs += cost.effectiveMACs
            total.hardwareCycles += cost.hardwareCycles
            total.zeroSkippingCycles += cost.zeroSkippingCycles
            total.dramBytes += cost.dramBytes
            total.cbufBytes += cost.cbufBytes
            total.accumulatorBytes += cost.accumulatorBytes
            total.energyPicojoules += cost.energyPicojoules
            total.zeroSkippingEnergyPicojoules += cost.zeroSkippingEnergyPicojoules
            if cost.macUtilization > 0 {
                slots += Double(cost.macs) / cost.macUtilization
            }
        }
        total.macUtilization = slots > 0 ? Double(total.macs) / slots : 0
        return total
    }
}

/// One operation's emulated cost on one core, as far as it is known before the run.
enum PlannedCost: Sendable {
    case fixed(OperationCost)
    /// Convolutions: the zero-skipping estimate waits for the activation density.
    case convolution(ConvolutionCost)

    func cost(activationDensity: Double) -> OperationCost {
        switch self {
        case .fixed(let cost): cost
        case .convolution(let cost): cost.cost(activationDensity: activationDensity)
        }
    }
}
