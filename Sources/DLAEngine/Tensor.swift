/// A dense row-major tensor. Feature maps are `[channels, height, width]` for one image, the planar
/// form the host kernels want; `Rubik` converts to and from NVDLA's packed feature format.
public struct Tensor<Scalar: Sendable>: Sendable {
    public let shape: [Int]
    public var scalars: [Scalar]

    /// Fails when a dimension is negative, the element count overflows, or `scalars` has the
    /// wrong length.
    public init(shape: [Int], scalars: [Scalar]) throws(EngineError) {
        let count = try Self.elementCount(of: shape)
        guard scalars.count == count else {
            throw .elementCountMismatch(what: "tensor of shape \(shape)", expected: count, found: scalars.count)
        }
        self.shape = shape
        self.scalars = scalars
    }

    public init(shape: [Int], repeating value: Scalar) throws(EngineError) {
        let count = try Self.elementCount(of: shape)
        self.shape = shape
        self.scalars = Array(repeating: value, count: count)
    }

    public var count: Int { scalars.count }

    /// The same elements under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) throws(EngineError) -> Tensor {
        try Tensor(shape: newShape, scalars: scalars)
    }

    static func elementCount(of shape: [Int]) throws(EngineError) -> Int {
        var count = 1
        for dimension in shape {
            guard dimension >= 0 else {
                throw .invalidParameter(name: "tensor dimension", expected: "non-negative", found: "\(dimension) in \(shape)")
            }
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else {
                throw .invalidParameter(name: "tensor shape", expected: "an element count that fits Int", found: "\(shape)")
            }
            count = product
        }
        return count
    }

    /// Checks this tensor is a `[C, H, W]` feature map and returns its dimensions.
    func featureMapDimensions(_ what: String) throws(EngineError) -> (channels: Int, height: Int, width: Int) {
        guard shape.count == 3 else {
            throw .shapeMismatch(what: "\(what) (expected [channels, height, width])", expected: [-1, -1, -1], found: shape)
        }
        return (shape[0], shape[1], shape[2])
    }
}

extension Tensor: Equatable where Scalar: Equatable {}
extension Tensor: Hashable where Scalar: Hashable {}
