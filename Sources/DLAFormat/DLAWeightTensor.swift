/// A weights-section tensor as the writer receives it: quantized codes plus the parameters
/// that give them meaning, and how to store them.
public struct DLAWeightTensor: Sendable, Hashable {
    public var name: String
    /// Row-major dimensions, all ≥ 1; dimension 0 is the output channel for weights.
    public var shape: [Int]
    public var values: DLATensorValues
    public var quantization: DLAQuantization
    /// nil lets the writer pick the smallest exact encoding (see `DLATensorEncoder`).
    public var encoding: DLATensorEncoding?

    public init(name: String, shape: [Int], values: DLATensorValues, quantization: DLAQuantization = .none, encoding: DLATensorEncoding? = nil) {
        self.name = name
        self.shape = shape
        self.values = values
        self.quantization = quantization
        self.encoding = encoding
    }

    public var dataType: DLADataType { values.dataType }
}
