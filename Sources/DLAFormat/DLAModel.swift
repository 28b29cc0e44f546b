/// Everything a `.dla` file holds, in the form the writer takes.
public struct DLAModel: Sendable, Hashable {
    public var metadata: DLAMetadata
    public var graph: DLAGraph
    /// Weights-section tensors; attributes reference them by index.
    public var weights: [DLAWeightTensor]
    public var selfTests: [DLASelfTest]

    public init(metadata: DLAMetadata, graph: DLAGraph, weights: [DLAWeightTensor], selfTests: [DLASelfTest] = []) {
        self.metadata = metadata
        self.graph = graph
        self.weights = weights
        self.selfTests = selfTests
    }
}
