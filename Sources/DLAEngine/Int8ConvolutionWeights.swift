import CDLAKernels
import Synchronization

/// INT8 weights of one convolution or fully connected layer in execution form.
///
/// Loading decodes storage (dense, sparse, codebook) into this form once, and packs the weights
/// once into the only copy kept: blocks of 16 output channels, for every kernel tap every group of
/// 4 input channels as 16 × 4 bytes (`dla_conv_pack_weights`), the layout the direct convolution
/// and the GEMMs read on every instruction set. A fully connected layer (and a convolution that
/// takes im2col) packs its rows as one tap of `reductionLength` channels.
/// The plain `[outputChannels][reductionLength]` matrix (the reference twin, grouped convolutions
/// whose groups are not whole 16-channel blocks on CPUs without VNNI, reductions longer than one
/// exact C call) and the layouts only the zero-skipping
/// strategies read — per-output-channel nonzeros (CSR, the EIE layout for a batch), the transposed
/// matrix and per-input-column nonzeros (CSC) — are built on first use: most layers never take
/// those paths, and building them all at load cost 14× the weights in memory (ResNet-18: 165 MB
/// for 11.7 MB).
public struct Int8ConvolutionWeights: Sendable {
    /// The kernel the packed layout follows: `channels × height × width` = reductionLength, in
    /// the plain matrix's (c, r, s) order.
    struct Kernel: Sendable, Hashable {
        let channels: Int
        let height: Int
        let width: Int
    }

    public let outputChannels: Int
    /// Products per output element: (C / groups) × R × S.
    public let reductionLength: Int
    /// Σw per output channel: the VNNI kernels' +128 correction and the input zero-point
    /// compensation both need it. Exact in Int32: at most 2^19 × 128.
    public let rowSums: [Int32]
    public let nonzeroCount: Int
    let kernel: Kernel
    /// `dla_conv_pack_weights` of the plain matrix for `kernel`, on a 64-byte boundary.
    let packed: AlignedBytes
    private let lazyLayouts: LazyLayouts

    /// Fraction of weights that are nonzero.
    public var density: Double {
        Double(nonzeroCount) / Double(outputChannels * reductionLength)
    }

    /// Weights of a fully connected layer (or any `[outputChannels][reductionLength]` matrix
    /// whose convolution takes im2col).
    public init(outputChannels: Int, reductionLength: Int, values: [Int8]) throws(EngineError) {
        try self.init(outputChannels: outputChannels, reductionLength: reductionLength, values: values,
                      kernel: Kernel(channels: reductionLength, height: 1, width: 1))
    }

    /// Weights `[outputChannels][inputChannels / groups][kernelHeight][kernelWidth]` of the
    /// convolution `parameters`, packed for the direct kernel when it has one group and padding its
    /// input channels to a multiple of 4 adds at most a third more products (3 → 4 channels, as
    /// ResNet's stem, yes; LeNet-5's single channel, 1 → 4, no: im2col packs its 25 taps into 28).
    public init(convolution parameters: ConvolutionParameters, values: [Int8]) throws(EngineError) {
        let geometry = try parameters.validated()
        let channels = parameters.inputChannels
        let kernel = parameters.groups == 1 && ((channels + 3) / 4 * 4 - channels) * 3 <= channels
            ? Kernel(channels: parameters.inputChannels, height: parameters.kernelHeight, width: parameters.kernelWidth)
            : Kernel(channels: geometry.reductionLength, height: 1, width: 1)
        try self.init(outputChannels: parameters.outputChannels, reductionLength: geometry.reductionLength, values: values, kernel: kernel)
    }

    private init(outputChannels: Int, reductionLength: Int, values: [Int8], kernel: Kernel) throws(EngineError) {
        try EngineError.require("outputChannels", outputChannels, in: 1...65536)
        try EngineError.require("reductionLength", reductionLength, in: 1...ConvolutionCore.maximumReductionLength)
        guard values.count == outputChannels * reductionLength else {
            throw .elementCountMismatch(what: "weights [\(outputChannels), \(reductionLength)]",
                                        expected: outputChannels * reductionLength, found: values.count)
        }
        self.outputChannels = outputChannels
        self.reductionLength = reductionLength
        self.kernel = kernel

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
        let packed = AlignedBytes(count: Int(dla_conv_packed_size(Int64(n), Int64(kernel.channels), Int64(kernel.height), Int64(kernel.width))))
        dla_conv_pack_weights(Int64(n), Int64(kernel.channels), Int64(kernel.height), Int64(kernel.width), values, packed.base)
        self.packed = packed
        self.lazyLayouts = LazyLayouts()
    }

    /// Whether the packed layout is the direct kernel's for `parameters` (one group, the same
    /// input channels and kernel).
    func packedForDirectConvolution(_ parameters: ConvolutionParameters) -> Bool {
        parameters.groups == 1 && kernel == Kernel(channels: parameters.inputChannels, height: parameters.kernelHeight, width: parameters.kernelWidth)
    }

    /// Whether the packed layout is the GEMMs' for the plain matrix (one tap of reductionLength channels).
    var packedAsRows: Bool { kernel.height == 1 && kernel.width == 1 }

    /// Row-major `[outputChannels][reductionLength]`, unpacked on first use and then kept.
    public var values: [Int8] {
        lazyLayouts.values {
            [Int8](unsafeUninitializedCapacity: outputChannels * reductionLength) { buffer, count in
                dla_conv_unpack_weights(Int64(outputChannels), Int64(kernel.channels), Int64(kernel.height), Int64(kernel.width),
                                        packed.base, buffer.baseAddress!)
                count = outputChannels * reductionLength
            }
        }
    }

    /// Nonzeros per output channel (`sparseWeights`), built on first use.
    var rows: SparseLayout {
        let values = self.values  // outside the lock, which it takes itself
        return lazyLayouts.rows { Self.rowLayout(values: values, outputChannels: outputChannels, reductionLength: reductionLength) }
    }

    /// Nonzeros per input column (`sparseWeightsAndActivations`), built on first use.
    var columns: SparseLayout {
        let rows = self.rows
        return lazyLayouts.columns { Self.columnLayout(rows: rows, reductionLength: reductionLength) }
    }

    /// `[reductionLength][outputChannels]` (`skipZeroActivations`), built on first use.
    var transposed: [Int8] {
        let values = self.values
        return lazyLayouts.transposed {
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
        var values: [Int8]?
        var rows: SparseLayout?
        var columns: SparseLayout?
        var transposed: [Int8]?
    }

    private let state = Mutex(State())

    func values(_ build: () -> [Int8]) -> [Int8] {
        state.withLock { state in
            if let values = state.values { return values }
            let values = build()
            state.values = values
            return values
        }
    }

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
