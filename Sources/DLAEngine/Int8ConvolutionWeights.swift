import CDLAKernels
import Synchronization

/// INT8 weights of one convolution or fully connected layer in execution form.
///
/// Loading decodes storage (dense, sparse, codebook) into this form once. Every layer keeps the
/// dense matrix (`[outputChannels][reductionLength]`, the layout CDMA streams into CBUF, read by
/// the reference twin and the portable GEMM) and, on AVX-512 VNNI hosts, its packed copy (the
/// `dense` strategy). The layouts only the zero-skipping strategies read — per-output-channel
/// nonzeros (CSR, the EIE layout for a batch), the transposed matrix and per-input-column nonzeros
/// (CSC) — are built on first use: most layers never take those strategies, and building them all
/// at load cost 14× the weights in memory (ResNet-18: 165 MB for 11.7 MB).
public struct Int8ConvolutionWeights: Sendable {
    public let outputChannels: Int
    /// Products per output element: (C / groups) × R × S.
    public let reductionLength: Int
    /// Row-major `[outputChannels][reductionLength]`.
    public let values: [Int8]
    /// Σw per output channel: the VNNI kernel's +128 correction and the input zero-point
    /// compensation both need it. Exact in Int32: at most 2^19 × 128.
    public let rowSums: [Int32]
    public let nonzeroCount: Int
    /// The VNNI broadcast kernel's layout (`dla_vnni_pack`); nil on CPUs without AVX-512 VNNI.
    let vnniPacked: AlignedBytes?
    private let lazyLayouts: LazyLayouts

    /// Fraction of weights that are nonzero.
    public var density: Double {
        values.isEmpty ? 0 : Double(nonzeroCount) / Double(values.count)
    }

    public init(outputChannels: Int, reductionLength: Int, values: [Int8]) throws(EngineError) {
        try EngineError.require("outputChannels", outputChannels, in: 1...65536)
        try EngineError.require("reductionLength", reductionLength, in: 1...ConvolutionCore.maximumReductionLength)
        guard values.count == outputChannels * reductionLength else {
            throw .elementCountMismatch(what: "weights [\(outputChannels), \(reductionLength)]",
                                        expected: outputChannels * reductionLength, found: values.count)
        }
        self.outputChannels = outputChannels
        self.reductionLength = reductionLength
        self.values = values

        let n = outputChannels, k = reductionLength
        var sums = [Int32](repeating: 0, count: n)
        var nonzero = 0
        for j in 0..<n {
            var sum: Int32 = 0
            for p in 0..<k {
                let w = values[j * k + p]
                sum &+= Int32(w)
                if w != 0 { nonzero += 1 }
            }
            sums[j] = sum
        }
        self.rowSums = sums
        self.nonzeroCount = nonzero
        if HostKernels.best == .avx512VNNI {
            let packed = AlignedBytes(count: Int(dla_vnni_packed_size(Int64(n), Int64(k))))
            dla_vnni_pack(Int64(n), Int64(k), values, Int64(k), packed.base)
            self.vnniPacked = packed
        } else {
            self.vnniPacked = nil
        }
        self.lazyLayouts = LazyLayouts()
    }

    /// Nonzeros per output channel (`sparseWeights`), built on first use.
    var rows: SparseLayout {
        lazyLayouts.rows { Self.rowLayout(values: values, outputChannels: outputChannels, reductionLength: reductionLength) }
    }

    /// Nonzeros per input column (`sparseWeightsAndActivations`), built on first use.
    var columns: SparseLayout {
        let rows = self.rows
        return lazyLayouts.columns { Self.columnLayout(rows: rows, reductionLength: reductionLength) }
    }

    /// `[reductionLength][outputChannels]` (`skipZeroActivations`), built on first use.
    var transposed: [Int8] {
        lazyLayouts.transposed {
            let n = outputChannels, k = reductionLength
            var transposed = [Int8](repeating: 0, count: n * k)
            for j in 0..<n {
                for p in 0..<k { transposed[p * n + j] = values[j * k + p] }
            }
            return transposed
        }
    }

    private static func rowLayout(values: [Int8], outputChannels n: Int, reductionLength k: Int) -> SparseLayout {
        var start = [Int64](repeating: 0, count: n + 1)
        var index: [Int32] = []
        var nonzero: [Int8] = []
        for j in 0..<n {
            for p in 0..<k where values[j * k + p] != 0 {
                index.append(Int32(p))
                nonzero.append(values[j * k + p])
            }
            start[j + 1] = Int64(index.count)
        }
        return SparseLayout(start: start, index: index, values: nonzero)
    }

    /// CSR → CSC by counting sort: within a column, rows stay in ascending order.
    private static func columnLayout(rows: SparseLayout, reductionLength k: Int) -> SparseLayout {
        var start = [Int64](repeating: 0, count: k + 1)
        for p in rows.index {
            start[Int(p) + 1] += 1
        }
        for p in 0..<k {
            start[p + 1] += start[p]
        }
        var cursor = start
        var index = [Int32](repeating: 0, count: rows.index.count)
        var nonzero = [Int8](repeating: 0, count: rows.index.count)
        for j in 0..<(rows.start.count - 1) {
            for q in Int(rows.start[j])..<Int(rows.start[j + 1]) {
                let p = Int(rows.index[q])
                let slot = Int(cursor[p])
                index[slot] = Int32(j)
                nonzero[slot] = rows.values[q]
                cursor[p] += 1
            }
        }
        return SparseLayout(start: start, index: index, values: nonzero)
    }
}

/// Compressed sparse rows or columns: entries of line `i` are `start[i]..<start[i + 1]`, each at
/// position `index` (column for CSR, row for CSC) with weight `values`.
struct SparseLayout: Sendable {
    let start: [Int64]
    let index: [Int32]
    let values: [Int8]
}

/// The layouts built on first use, shared by every copy of one `Int8ConvolutionWeights` and safe to
/// request from several threads at once (each is built once, under the lock).
private final class LazyLayouts: Sendable {
    private struct State {
        var rows: SparseLayout?
        var columns: SparseLayout?
        var transposed: [Int8]?
    }

    private let state = Mutex(State())

    func rows(_ build: () -> SparseLayout) -> SparseLayout {
        state.withLock { state in
            if let rows = state.rows { return rows }
            let rows = build()
            state.rows = rows
            return rows
        }
    }

    func columns(_ build: () -> SparseLayout) -> SparseLayout {
        state.withLock { state in
            if let columns = state.columns { return columns }
            let columns = build()
            state.columns = columns
            return columns
        }
    }

    func transposed(_ build: () -> [Int8]) -> [Int8] {
        state.withLock { state in
            if let transposed = state.transposed { return transposed }
            let transposed = build()
            state.transposed = transposed
            return transposed
        }
    }
}

/// Immutable bytes on a 64-byte boundary, written once by their creator: the VNNI kernel loads
/// whole 64-byte groups of packed weights, and an array's storage (at a malloc-chosen offset)
/// would split each load over two cache lines.
final class AlignedBytes: @unchecked Sendable {
    let count: Int
    let base: UnsafeMutablePointer<Int8>

    init(count: Int) {
        self.count = count
        base = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64).bindMemory(to: Int8.self, capacity: max(count, 1))
        base.initialize(repeating: 0, count: max(count, 1))
    }

    deinit { base.deallocate() }
}
