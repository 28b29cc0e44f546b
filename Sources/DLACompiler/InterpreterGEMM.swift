/// The interpreter's matrix products over unsafe buffers, written as `while` loops because the
/// tests run unoptimized builds, where range iterators and checked subscripts cost more than the
/// arithmetic. Every output element is summed over `k` in increasing order from zero, the
/// same order as the plain reference loops, so the two agree bit for bit.
enum InterpreterGEMM {
    /// `c[m×n] = a[m×k] · b`, with `b` stored `[k×n]` or, `bTransposed`, `[n×k]`.
    static func multiply(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>, into c: UnsafeMutableBufferPointer<Float>,
                         m: Int, n: Int, k: Int, bTransposed: Bool) {
        guard m > 0, n > 0, let a = a.baseAddress, let b = b.baseAddress, let c = c.baseAddress else { return }
        var i = 0
        while i < m {
            let row = a + i * k
            let out = c + i * n
            if bTransposed {
                var j = 0
                while j < n {
                    let column = b + j * k
                    var sum: Float = 0
                    var p = 0
                    while p < k {
                        sum += row[p] * column[p]
                        p += 1
                    }
                    out[j] = sum
                    j += 1
                }
            } else {
                var j = 0
                while j < n {
                    out[j] = 0
                    j += 1
                }
                var p = 0
                while p < k {
                    let value = row[p]
                    let bRow = b + p * n
                    j = 0
                    while j < n {
                        out[j] += value * bRow[j]
                        j += 1
                    }
                    p += 1
                }
            }
            i += 1
        }
    }

    /// The same product over integers (quantized operators accumulate exactly, as ONNX and
    /// ONNX Runtime do). Wrapping arithmetic: a hostile model cannot trap the process.
    static func multiply(_ a: UnsafeBufferPointer<Int32>, _ b: UnsafeBufferPointer<Int32>, into c: UnsafeMutableBufferPointer<Int32>,
                         m: Int, n: Int, k: Int, bTransposed: Bool) {
        guard m > 0, n > 0, let a = a.baseAddress, let b = b.baseAddress, let c = c.baseAddress else { return }
        var i = 0
        while i < m {
            let row = a + i * k
            let out = c + i * n
            if bTransposed {
                var j = 0
                while j < n {
                    let column = b + j * k
                    var sum: Int32 = 0
                    var p = 0
                    while p < k {
                        sum = sum &+ row[p] &* column[p]
                        p += 1
                    }
                    out[j] = sum
                    j += 1
                }
            } else {
                var j = 0
                while j < n {
                    out[j] = 0
                    j += 1
                }
                var p = 0
                while p < k {
                    let value = row[p]
                    let bRow = b + p * n
                    j = 0
                    while j < n {
                        out[j] = out[j] &+ value &* bRow[j]
                        j += 1
                    }
                    p += 1
                }
            }
            i += 1
        }
    }
}
