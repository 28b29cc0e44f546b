/// Name, shape, element type and quantization of a model input, output or activation tensor.
public struct DLATensorSpec: Sendable, Hashable {
    /// The value of a dimension that is fixed only at run time (the batch dimension).
    /// Allowed only as the first dimension; every other dimension is ≥ 1.
    public static let symbolicDimension: Int64 = -1

    public var name: String
    public var shape: [Int64]
    public var dataType: DLADataType
    public var quantization: DLAQuantization

    public init(name: String, shape: [Int64], dataType: DLADataType, quantization: DLAQuantization = .none) {
        self.name = name
        self.shape = shape
        self.dataType = dataType
        self.quantization = quantization
    }

    /// Element count with the symbolic dimension taken as `batch`, nil on overflow.
    public func elementCount(batch: Int = 1) -> Int? {
        var total = 1
        for dimension in shape {
            let size = dimension == Self.symbolicDimension ? batch : Int(truncatingIfNeeded: dimension)
            let (product, overflow) = total.multipliedReportingOverflow(by: size)
            if overflow { return nil }
            total = product
        }
        return total
    }
}
