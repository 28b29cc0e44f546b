import DLAEngine
import NVDLALoadable

/// What one hardware operation cost on the emulated profile (PerformanceModel, as the `.dla`
/// path reports it). A fused SDP's cost is reported on its own line, its input arriving on the fly.
public struct NVDLAOperationReport: Sendable {
    /// Index in the network's operation list.
    public let index: Int
    public let type: FirmwareOperationType
    /// What ran, e.g. "SDP INT16 relu" or "CONV INT8 3×3 128→32".
    public let summary: String
    public let cost: OperationCost
}

/// The emulated cost of a task: per operation in execution order, and the total.
public struct NVDLARunReport: Sendable {
    public let profile: HardwareProfile
    public let operations: [NVDLAOperationReport]

    public var total: OperationCost { OperationCost.total(operations.map(\.cost)) }
}
