/// Chooses and produces the stored form of a weights tensor.
///
/// Sizes of every applicable exact encoding are computed from symbol histograms (no trial
/// encoding), the smallest wins, ties going to the simpler encoding listed first.
public struct DLATensorEncoder: Sendable {
    /// One applicable encoding and the payload bytes it would take.
    public struct Candidate: Sendable, Hashable {
        public var encoding: DLATensorEncoding
        public var storedBytes: Int
    }

    let dataType: DLADataType
    let codes: [UInt32]
    let zeroCodes: ZeroCodes
    /// Positions of elements that differ from their zero code, ascending.
    let nonzeroPositions: [Int]

    /// `tensor` must be valid (shape product equals the value count, quantization fits).
    public init(_ tensor: DLAWeightTensor) {
        dataType = tensor.dataType
        codes = tensor.values.codes
        zeroCodes = ZeroCodes(dataType: tensor.dataType, quantization: tensor.quantization, shape: tensor.shape)
        var positions: [Int] = []
        for index in codes.indices where codes[index] != zeroCodes.code(at: index) { positions.append(index) }
        nonzeroPositions = positions
    }

    public var elementCount: Int { codes.count }
    public var nonzeroCount: Int { nonzeroPositions.count }

    /// Every applicable encoding with its exact payload size, simplest first.
    public func candidates() -> [Candidate] {
        var result: [Candidate] = []
        let width = dataType.byteWidth
        result.append(Candidate(encoding: .dense, storedBytes: codes.count * width))
        let oneByte = width == 1
        if oneByte {
            let size = Self.headerBytes + Self.huffmanStreamBytes(histogram(codes, alphabetBits: 8), alphabetBits: 8)
            result.append(Candidate(encoding: DLATensorEncoding(huffmanValues: true), storedBytes: size))
        }
        result += codebookCandidates(values: codes, gapBits: nil, gapStreamBytes: (0, 0))
        for gapBits in 1...8 {
            let entries = sparseEntries(gapBits: gapBits)
            let gapHistogram = histogram(entries.gaps.map(UInt32.init), alphabetBits: gapBits)
            let gapBytes = (packed: Self.packedBytes(count: entries.gaps.count, bits: gapBits),
                            huffman: Self.huffmanStreamBytes(gapHistogram, alphabetBits: gapBits))
            let rawValueBytes = entries.values.count * width
            let huffmanValueBytes = oneByte ? Self.huffmanStreamBytes(histogram(entries.values, alphabetBits: 8), alphabetBits: 8) : nil
            for huffmanGaps in [false, true] {
                let gapStream = huffmanGaps ? gapBytes.huffman : gapBytes.packed
                let base = Self.headerBytes + Self.streamLengthBytes + gapStream
                result.append(Candidate(encoding: DLATensorEncoding(gapBits: gapBits, huffmanGaps: huffmanGaps),
                                        storedBytes: base + rawValueBytes))
                if let huffmanValueBytes {
                    result.append(Candidate(encoding: DLATensorEncoding(gapBits: gapBits, huffmanValues: true, huffmanGaps: huffmanGaps),
                                            storedBytes: base + huffmanValueBytes))
                }
            }
            result += codebookCandidates(values: entries.values, gapBits: gapBits, gapStreamBytes: gapBytes)
        }
        return result
    }

    /// The smallest exact encoding (the first one on ties).
    public func smallest() -> Candidate {
        candidates().min { $0.storedBytes < $1.storedBytes } ?? Candidate(encoding: .dense, storedBytes: codes.count * dataType.byteWidth)
    }

    /// What the compiler prints per tensor: the chosen encoding and what it costs.
    public struct Report: Sendable, Hashable {
        public var encoding: DLATensorEncoding
        /// Payload bytes (scales and zero points not included).
        public var storedBytes: Int
        public var elementCount: Int
        public var nonzeroCount: Int
        /// Every applicable encoding with its size, simplest first.
        public var candidates: [Candidate]

        public var density: Double { elementCount == 0 ? 0 : Double(nonzeroCount) / Double(elementCount) }
        public var bitsPerWeight: Double { elementCount == 0 ? 0 : Double(storedBytes * 8) / Double(elementCount) }
    }

    /// The smallest encoding with the statistics of the tensor under it.
    public func report() -> Report {
        let all = candidates()
        let best = all.min { $0.storedBytes < $1.storedBytes } ?? Candidate(encoding: .dense, storedBytes: codes.count * dataType.byteWidth)
        return Report(encoding: best.encoding, storedBytes: best.storedBytes, elementCount: elementCount,
                      nonzeroCount: nonzeroCount, candidates: all)
    }

    /// Why an encoding cannot represent this tensor, or nil if it can.
    public func inapplicability(of encoding: DLATensorEncoding) -> String? {
        guard encoding.applies(to: dataType) else { return "encoding \(encoding) does not apply to \(dataType) tensors" }
        if let bits = encoding.codebookBits {
            let values = encoding.gapBits.map { sparseEntries(gapBits: $0).values } ?? codes
            let distinct = Set(values).count
            if distinct > 1 << bits { return "\(distinct) distinct values do not fit a \(bits)-bit codebook" }
        }
        return nil
    }

    /// The payload bytes of `encoding`; throws if the encoding cannot represent the tensor.
    public func encode(_ encoding: DLATensorEncoding) throws(DLAFormatError) -> [UInt8] {
        if let reason = inapplicability(of: encoding) {
            throw DLAFormatError(.invalidModel, section: "model", reason)
        }
        if encoding == .dense { return DLATensorValues(codes: codes, dataType: dataType).littleEndianBytes }
        var writer = ByteWriter()
        let entries: (gaps: [UInt8], values: [UInt32])
        if let gapBits = encoding.gapBits {
            entries = sparseEntries(gapBits: gapBits)
        } else {
            entries = ([], codes)
        }
        writer.u64(UInt64(entries.values.count))
        let valueStream: [UInt8]
        if let bits = encoding.codebookBits {
            let centroids = Array(Set(entries.values)).sorted()
            writer.u16(UInt16(truncatingIfNeeded: centroids.count))
            writer.raw(DLATensorValues(codes: centroids, dataType: dataType).littleEndianBytes)
            var indexOf: [UInt32: UInt32] = [:]
            for (index, centroid) in centroids.enumerated() { indexOf[centroid] = UInt32(index) }
            let indices = entries.values.map { indexOf[$0] ?? 0 }
            valueStream = Self.symbolStream(indices, alphabetBits: bits, huffman: encoding.huffmanValues)
        } else if dataType.byteWidth == 1 {
            valueStream = Self.symbolStream(entries.values, alphabetBits: 8, huffman: encoding.huffmanValues)
        } else {
            valueStream = DLATensorValues(codes: entries.values, dataType: dataType).littleEndianBytes
        }
        writer.count32(valueStream.count)
        writer.raw(valueStream)
        if let gapBits = encoding.gapBits {
            let gapStream = Self.symbolStream(entries.gaps.map(UInt32.init), alphabetBits: gapBits, huffman: encoding.huffmanGaps)
            writer.count32(gapStream.count)
            writer.raw(gapStream)
        }
        return writer.bytes
    }

    // MARK: - Sizes

    /// entry count (u64) + value stream length (u32).
    static let headerBytes = 8 + 4
    /// The gap stream's u32 length.
    static let streamLengthBytes = 4

    private func codebookCandidates(values: [UInt32], gapBits: Int?, gapStreamBytes: (packed: Int, huffman: Int)) -> [Candidate] {
        let centroids = Set(values)
        guard centroids.count <= 256 else { return [] }
        let bits = max(2, Self.bitsToIndex(centroids.count))
        let codebookBytes = 2 + centroids.count * dataType.byteWidth
        let sorted = centroids.sorted()
        var indexOf: [UInt32: Int] = [:]
        for (index, centroid) in sorted.enumerated() { indexOf[centroid] = index }
        var indexHistogram = [Int](repeating: 0, count: 1 << bits)
        for value in values { indexHistogram[indexOf[value] ?? 0] += 1 }
        let indexBytes = (packed: Self.packedBytes(count: values.count, bits: bits),
                          huffman: Self.huffmanStreamBytes(indexHistogram, alphabetBits: bits))
        var result: [Candidate] = []
        for huffmanGaps in gapBits == nil ? [false] : [false, true] {
            let gapStream = gapBits == nil ? 0 : Self.streamLengthBytes + (huffmanGaps ? gapStreamBytes.huffman : gapStreamBytes.packed)
            for huffmanValues in [false, true] {
                let size = Self.headerBytes + codebookBytes + gapStream + (huffmanValues ? indexBytes.huffman : indexBytes.packed)
                result.append(Candidate(encoding: DLATensorEncoding(gapBits: gapBits, codebookBits: bits,
                                                                    huffmanValues: huffmanValues, huffmanGaps: huffmanGaps),
                                        storedBytes: size))
            }
        }
        return result
    }

    static func bitsToIndex(_ count: Int) -> Int {
        var bits = 0
        while (1 << bits) < count { bits += 1 }
        return bits
    }

    static func packedBytes(count: Int, bits: Int) -> Int { (count * bits + 7) / 8 }

    static func huffmanStreamBytes(_ histogram: [Int], alphabetBits: Int) -> Int {
        let lengths = Huffman.codeLengths(frequencies: histogram)
        return Huffman.tableBytes(alphabetSize: 1 << alphabetBits)
            + (Huffman.payloadBits(frequencies: histogram, lengths: lengths) + 7) / 8
    }

    private func histogram(_ symbols: [UInt32], alphabetBits: Int) -> [Int] {
        var histogram = [Int](repeating: 0, count: 1 << alphabetBits)
        for symbol in symbols { histogram[Int(symbol)] += 1 }
        return histogram
    }

    // MARK: - Streams

    /// EIE relative indexing: each entry stores the zeros skipped since the previous entry;
    /// a run longer than 2^b − 1 is broken by a filler entry holding the zero code.
    func sparseEntries(gapBits: Int) -> (gaps: [UInt8], values: [UInt32]) {
        let maxGap = (1 << gapBits) - 1
        var gaps: [UInt8] = [], values: [UInt32] = []
        gaps.reserveCapacity(nonzeroPositions.count)
        values.reserveCapacity(nonzeroPositions.count)
        var previous = -1
        for position in nonzeroPositions {
            var gap = position - previous - 1
            while gap > maxGap {
                let filler = previous + 1 + maxGap
                gaps.append(UInt8(maxGap))
                values.append(zeroCodes.code(at: filler))
                previous = filler
                gap -= maxGap + 1
            }
            gaps.append(UInt8(gap))
            values.append(codes[position])
            previous = position
        }
        return (gaps, values)
    }

    static func symbolStream(_ symbols: [UInt32], alphabetBits: Int, huffman: Bool) -> [UInt8] {
        if !huffman {
            var writer = BitWriter(reservingBits: symbols.count * alphabetBits)
            for symbol in symbols { writer.write(symbol, bits: alphabetBits) }
            return writer.finish()
        }
        var histogram = [Int](repeating: 0, count: 1 << alphabetBits)
        for symbol in symbols { histogram[Int(symbol)] += 1 }
        let lengths = Huffman.codeLengths(frequencies: histogram)
        let codes = Huffman.canonicalCodes(lengths: lengths)
        var writer = BitWriter(reservingBits: Huffman.payloadBits(frequencies: histogram, lengths: lengths))
        for symbol in symbols { writer.write(codes[Int(symbol)], bits: Int(lengths[Int(symbol)])) }
        return Huffman.packLengths(lengths) + writer.finish()
    }
}
