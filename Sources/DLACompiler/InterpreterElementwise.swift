#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Element-wise and per-axis float operators, each computed as ONNX's reference evaluator
/// writes it in numpy (same operation order, Float throughout).
enum InterpreterElementwise {
    /// Numpy broadcasting of `a` and `b` to `shape` (already checked by shape inference).
    static func broadcast(_ a: FloatBatch, _ b: FloatBatch, shape: [Int], _ operation: (Float, Float) -> Float) -> FloatBatch {
        let count = shape.reduce(1, *)
        if a.shape == shape, b.shape == shape {
            return FloatBatch(shape: shape, values: zip(a.values, b.values).map(operation))
        }
        if a.shape == shape, b.values.count == 1 {
            let scalar = b.values[0]
            return FloatBatch(shape: shape, values: a.values.map { operation($0, scalar) })
        }
        let aStrides = broadcastStrides(a.shape, to: shape)
        let bStrides = broadcastStrides(b.shape, to: shape)
        var values = [Float](repeating: 0, count: count)
        var index = [Int](repeating: 0, count: shape.count)
        var (aOffset, bOffset) = (0, 0)
        for position in 0..<count {
            values[position] = operation(a.values[aOffset], b.values[bOffset])
            var axis = shape.count - 1
            while axis >= 0 {
                index[axis] += 1
                aOffset += aStrides[axis]
                bOffset += bStrides[axis]
                if index[axis] < shape[axis] { break }
                aOffset -= aStrides[axis] * shape[axis]
                bOffset -= bStrides[axis] * shape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        return FloatBatch(shape: shape, values: values)
    }

    /// Row-major strides of `shape` seen through `target`: 0 along broadcast axes.
    static func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
        let padded = Array(repeating: 1, count: target.count - shape.count) + shape
        var strides = [Int](repeating: 0, count: target.count)
        var step = 1
        for axis in stride(from: target.count - 1, through: 0, by: -1) {
            strides[axis] = padded[axis] == 1 ? 0 : step
            step *= padded[axis]
        }
        return strides
    }

    /// `a[m×k] · b` with `b` `[k×n]` or, `bTransposed`, `[n×k]`.
    static func product(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int, bTransposed: Bool) -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    InterpreterGEMM.multiply(a, b, into: c, m: m, n: n, k: k, bTransposed: bTransposed)
                }
            }
        }
        return c
    }

    static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

    static func tanh(_ x: Float) -> Float { tanhf(x) }

    /// `exp(x - max) / sum(exp(x - max))` along `axis`.
    static func softmax(_ x: FloatBatch, axis: Int) -> FloatBatch {
        let length = x.shape[axis]
        let inner = x.shape[(axis + 1)...].reduce(1, *)
        let outer = x.shape[..<axis].reduce(1, *)
        var values = x.values
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * length * inner + i
                var maximum = -Float.infinity
                for j in 0..<length { maximum = max(maximum, values[base + j * inner]) }
                var sum: Float = 0
                for j in 0..<length {
                    let e = expf(values[base + j * inner] - maximum)
                    values[base + j * inner] = e
                    sum += e
                }
                for j in 0..<length { values[base + j * inner] /= sum }
            }
        }
        return FloatBatch(shape: x.shape, values: values)
    }

    /// ONNX LRN across channels: `x / (bias + alpha / size · Σ x²)^beta`, the sum over channels
    /// `c - ⌊(size-1)/2⌋ … c + ⌈(size-1)/2⌉`. Computed in Double (the fixture's reference was
    /// checked against the formula in float64).
    static func localResponseNormalization(_ x: FloatBatch, size: Int, alpha: Float, beta: Float, bias: Float) -> FloatBatch {
        let channels = x.shape[1]
        let plane = x.shape[2...].reduce(1, *)
        let below = (size - 1) / 2, above = size - 1 - below
        var values = x.values
        for image in 0..<x.shape[0] {
            for channel in 0..<channels {
                for position in 0..<plane {
                    var sum = 0.0
                    for other in max(0, channel - below)...min(channels - 1, channel + above) {
                        let value = Double(x.values[(image * channels + other) * plane + position])
                        sum += value * value
                    }
                    let index = (image * channels + channel) * plane + position
                    values[index] = Float(Double(x.values[index]) / pow(Double(bias) + Double(alpha) / Double(size) * sum, Double(beta)))
                }
            }
        }
        return FloatBatch(shape: x.shape, values: values)
    }

    /// Inference batch normalization: `(x - mean) / sqrt(var + epsilon) · scale + bias` per channel.
    static func batchNormalization(_ x: FloatBatch, scale: [Float], bias: [Float], mean: [Float], variance: [Float], epsilon: Float) -> FloatBatch {
        let channels = x.shape[1]
        let plane = x.shape[2...].reduce(1, *)
        var values = x.values
        for index in values.indices {
            let channel = (index / plane) % channels
            values[index] = (values[index] - mean[channel]) / (variance[channel] + epsilon).squareRoot() * scale[channel] + bias[channel]
        }
        return FloatBatch(shape: x.shape, values: values)
    }
}
