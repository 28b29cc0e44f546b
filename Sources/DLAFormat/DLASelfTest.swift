/// A stored input/expected-output pair that a loader runs to prove the model works on this
/// machine. Tensors use the model's input/output data types; the symbolic dimension is fixed.
public struct DLASelfTest: Sendable, Hashable {
    public var name: String
    public var inputs: [DLASelfTestTensor]
    public var expectedOutputs: [DLASelfTestTensor]
    /// Largest allowed absolute difference between expected and actual output elements, in
    /// the output's stored units (codes for integer types). 0 demands bit-exact equality.
    public var tolerance: Float

    public init(name: String, inputs: [DLASelfTestTensor], expectedOutputs: [DLASelfTestTensor], tolerance: Float = 0) {
        self.name = name
        self.inputs = inputs
        self.expectedOutputs = expectedOutputs
        self.tolerance = tolerance
    }
}

public struct DLASelfTestTensor: Sendable, Hashable {
    /// Concrete dimensions (no symbolic dimension).
    public var shape: [Int]
    public var values: DLATensorValues

    public init(shape: [Int], values: DLATensorValues) {
        self.shape = shape
        self.values = values
    }
}
