import DLAEngine
import Synchronization

/// A model version built for the engine, shared read-only by every request that runs it.
///
/// Built once when it is first needed (activation, a `?version=` request) and kept while it is
/// active or recently used; requests hold a reference, so a version that is switched away from
/// finishes the requests already running on it.
public final class LoadedVersion: Sendable {
    public let name: String
    public let version: Int
    public let executor: Executor
    public let inputSpecs: [ActivationSpec]
    public let outputSpecs: [ActivationSpec]
    /// Host time of one row, a moving average over recent runs (0 until the first run): the
    /// engine pool runs a request on the caller's thread only when this says it is cheap.
    private let nanosecondsPerRow = Atomic<UInt64>(0)
    public var model: CompiledModel { executor.model }
    public var profile: HardwareProfile { executor.profile }

    public init(name: String, version: Int, executor: Executor) {
        self.name = name
        self.version = version
        self.executor = executor
        inputSpecs = executor.model.inputs.map { executor.model.tensors[$0] }
        outputSpecs = executor.model.outputs.map { executor.model.tensors[$0] }
    }

    /// Host time `rows` rows are expected to take; nil before the version has run once.
    func expectedNanoseconds(rows: Int) -> UInt64? {
        let perRow = nanosecondsPerRow.load(ordering: .relaxed)
        return perRow == 0 ? nil : perRow.multipliedReportingOverflow(by: UInt64(max(rows, 1))).partialValue
    }

    /// Folds one run into the average (weight 1/8: a few slow runs on a busy machine do not flip it).
    func recordRun(nanoseconds: UInt64, rows: Int) {
        let sample = max(nanoseconds / UInt64(max(rows, 1)), 1)
        let old = nanosecondsPerRow.load(ordering: .relaxed)
        nanosecondsPerRow.store(old == 0 ? sample : (old * 7 + sample) / 8, ordering: .relaxed)
    }
}
