import DLAEngine

/// A model version built for the engine, shared read-only by every request that runs it.
///
/// Built once when it is first needed (activation, a `?version=` request) and kept while it is
/// active or recently used; requests hold a reference, so a version that is switched away from
/// finishes the requests already running on it.
public final class LoadedVersion: Sendable {
    public let name: String
    public let version: Int
    public let executor: Executor
    public var model: CompiledModel { executor.model }
    public var profile: HardwareProfile { executor.profile }
    public var inputSpecs: [ActivationSpec] { model.inputs.map { model.tensors[$0] } }
    public var outputSpecs: [ActivationSpec] { model.outputs.map { model.tensors[$0] } }

    public init(name: String, version: Int, executor: Executor) {
        self.name = name
        self.version = version
        self.executor = executor
    }
}
