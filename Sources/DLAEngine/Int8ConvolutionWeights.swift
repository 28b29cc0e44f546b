import CDLAKernels

/// INT8 weights of one convolution or fully connected layer in execution form.
///
/// Loading decodes storage (dense, sparse, codebook) into this form once; every strategy reads the
/// form it needs: the dense matrix (`[outputChannels][reductionLength]`, the layout CDMA streams
/// into CBUF), per-output-channel nonzeros (CSR, the EIE layout for a batch), and the transposed and
/// per-input-column (CSC) layouts that let zero activations be skipped.
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

    let rowStart: [Int64]
    let rowColumn: [Int32]
    let rowValues: [Int8]
    /// `[reductionLength][outputChannels]`.
    let transposed: [Int8]
    let columnStart: [Int64]
    let columnRow: [Int32]
    let columnValues: [Int8]
    /// The VNNI broadcast kernel's layout (`dla_vnni_pack`); empty on CPUs without AVX-512 VNNI.
    let vnniPacked: [Int8]

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
        var rowStart = [Int64](repeating: 0, count: n + 1)
        var rowColumn: [Int32] = []
        var rowValues: [Int8] = []
        var transposed = [Int8](repeating: 0, count: n * k)
        var columnCounts = [Int64](repeating: 0, count: k + 1)
        for j in 0..<n {
            var sum: Int32 = 0
            for p in 0..<k {
                let w = values[j * k + p]
                sum &+= Int32(w)
                transposed[p * n + j] = w
                if w != 0 {
                    rowColumn.append(Int32(p))
                    rowValues.append(w)
                    columnCounts[p + 1] += 1
                }
            }
            sums[j] = sum
            rowStart[j + 1] = Int64(rowColumn.count)
        }
        for p in 0..<k {
            columnCounts[p + 1] += columnCounts[p]
        }
        var cursor = columnCounts
        var columnRow = [Int32](repeating: 0, count: rowColumn.count)
        var columnValues = [Int8](repeating: 0, count: rowColumn.count)
        for j in 0..<n {
            for q in Int(rowStart[j])..<Int(rowStart[j + 1]) {
                let p = Int(rowColumn[q])
                let slot = Int(cursor[p])
                columnRow[slot] = Int32(j)
                columnValues[slot] = rowValues[q]
                cursor[p] += 1
            }
        }
        self.rowSums = sums
        self.nonzeroCount = rowColumn.count
        self.rowStart = rowStart
        self.rowColumn = rowColumn
        self.rowValues = rowValues
        self.transposed = transposed
        self.columnStart = columnCounts
        self.columnRow = columnRow
        self.columnValues = columnValues
        if HostKernels.best == .avx512VNNI {
            var packed = [Int8](repeating: 0, count: Int(dla_vnni_packed_size(Int64(n), Int64(k))))
            dla_vnni_pack(Int64(n), Int64(k), values, Int64(k), &packed)
            self.vnniPacked = packed
        } else {
            self.vnniPacked = []
        }
    }
}
