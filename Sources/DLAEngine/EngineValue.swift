/// An activation tensor while a graph runs: INT8 feature data, INT32 accumulators (CACC output
/// kept for SDP), or FP32 (CPU-fallback results and float graph interfaces). Shapes include the
/// batch as dimension 0.
public enum EngineValue: Sendable, Equatable {
    case int8(Tensor<Int8>)
    case int32(Tensor<Int32>)
    case float32(Tensor<Float>)

    public var shape: [Int] {
        switch self {
        case .int8(let t): t.shape
        case .int32(let t): t.shape
        case .float32(let t): t.shape
        }
    }

    /// The number of elements (all rows).
    public var count: Int {
        switch self {
        case .int8(let t): t.count
        case .int32(let t): t.count
        case .float32(let t): t.count
        }
    }

    public var typeName: String {
        switch self {
        case .int8: "int8"
        case .int32: "int32"
        case .float32: "float32"
        }
    }

    /// Rows `range` of dimension 0.
    public func batchSlice(_ range: Range<Int>) throws(EngineError) -> EngineValue {
        func slice<T>(_ t: Tensor<T>) throws(EngineError) -> Tensor<T> {
            let row = t.shape.dropFirst().reduce(1, *)
            var shape = t.shape
            shape[0] = range.count
            return try Tensor(shape: shape, scalars: Array(t.scalars[(range.lowerBound * row)..<(range.upperBound * row)]))
        }
        switch self {
        case .int8(let t): return .int8(try slice(t))
        case .int32(let t): return .int32(try slice(t))
        case .float32(let t): return .float32(try slice(t))
        }
    }

    /// Joins batch slices back along dimension 0.
    public static func joinBatches(_ parts: [EngineValue]) throws(EngineError) -> EngineValue {
        func join<T>(_ tensors: [Tensor<T>]) throws(EngineError) -> Tensor<T> {
            var shape = tensors[0].shape
            shape[0] = tensors.reduce(0) { $0 + $1.shape[0] }
            return try Tensor(shape: shape, scalars: tensors.flatMap(\.scalars))
        }
        switch parts.first {
        case .int8?: return .int8(try join(parts.compactMap { if case .int8(let t) = $0 { t } else { nil } }))
        case .int32?: return .int32(try join(parts.compactMap { if case .int32(let t) = $0 { t } else { nil } }))
        case .float32?: return .float32(try join(parts.compactMap { if case .float32(let t) = $0 { t } else { nil } }))
        case nil: throw .invalidParameter(name: "batch slices", expected: "at least one", found: "none")
        }
    }
}
