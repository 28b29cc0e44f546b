/// Operators that only move elements: Transpose and Concat (Reshape, Flatten, Squeeze and
/// Unsqueeze keep the values and change only the shape).
enum InterpreterLayout {
    /// Output axis `i` is input axis `permutation[i]`.
    static func transpose(_ x: FloatBatch, permutation: [Int]) -> FloatBatch {
        let shape = permutation.map { x.shape[$0] }
        var inputStrides = [Int](repeating: 1, count: x.shape.count)
        for axis in stride(from: x.shape.count - 2, through: 0, by: -1) {
            inputStrides[axis] = inputStrides[axis + 1] * x.shape[axis + 1]
        }
        let strides = permutation.map { inputStrides[$0] }
        var values = [Float](repeating: 0, count: x.values.count)
        var index = [Int](repeating: 0, count: shape.count)
        var offset = 0
        for position in values.indices {
            values[position] = x.values[offset]
            var axis = shape.count - 1
            while axis >= 0 {
                index[axis] += 1
                offset += strides[axis]
                if index[axis] < shape[axis] { break }
                offset -= strides[axis] * shape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        return FloatBatch(shape: shape, values: values)
    }

    /// Joins `parts` along `axis` into `shape`.
    static func concat(_ parts: [FloatBatch], axis: Int, shape: [Int]) -> FloatBatch {
        let outer = shape[..<axis].reduce(1, *)
        let inner = shape[(axis + 1)...].reduce(1, *)
        var values: [Float] = []
        values.reserveCapacity(shape.reduce(1, *))
        for o in 0..<outer {
            for part in parts {
                let block = part.shape[axis] * inner
                values.append(contentsOf: part.values[(o * block)..<((o + 1) * block)])
            }
        }
        return FloatBatch(shape: shape, values: values)
    }
}
