/// What one operation cost, emulated and on the host.
public struct OperationStats: Sendable {
    public var name: String
    public var unit: ExecutionUnit
    public var type: String
    /// Emulated cost, summed over the batch (and over emulated cores).
    public var cost: OperationCost
    /// The host strategy a convolution took (nil for other units).
    public var strategy: ConvolutionStrategy?
    /// Nonzero fraction of a convolution's input activations (nil for other units); with the
    /// weights' density it sets the zero-skipping estimate.
    public var inputDensity: Double?
    /// Host time, summed over host threads.
    public var hostNanoseconds: UInt64
}

/// A run's statistics: per operation and in total, emulated and host.
public struct ExecutionStats: Sendable {
    public var profile: String
    public var batch: Int
    /// Emulated DLA cores the batch was split over (two on `xavier`).
    public var emulatedCores: Int
    public var hostThreads: Int
    /// The host kernels' instruction set.
    public var hostInstructionSet: String
    public var operations: [OperationStats]
    public var total: OperationCost
    /// Emulated wall time: the busiest core's cycles at the profile clock.
    public var emulatedSeconds: Double
    /// Zero-skipping counterpart of `emulatedSeconds`.
    public var zeroSkippingSeconds: Double
    /// Host wall time of the whole run.
    public var hostNanoseconds: UInt64
}
