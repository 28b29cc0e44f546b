/// How a weights tensor is stored. The components combine freely where they apply:
/// relative-index sparse storage, a codebook of shared values, Huffman coding of the
/// value/index stream and of the gap stream. All encodings are exact.
public struct DLATensorEncoding: Sendable, Hashable, CustomStringConvertible {
    /// Relative-index (EIE) sparse storage with gaps of this many bits (1…8); nil = dense.
    public var gapBits: Int?
    /// Weight sharing through a codebook of at most 2^b entries, b ∈ 2…8; nil = raw values.
    public var codebookBits: Int?
    /// Huffman coding of the value stream (1-byte types) or of the codebook index stream.
    public var huffmanValues: Bool
    /// Huffman coding of the gap stream (sparse only).
    public var huffmanGaps: Bool

    public init(gapBits: Int? = nil, codebookBits: Int? = nil, huffmanValues: Bool = false, huffmanGaps: Bool = false) {
        self.gapBits = gapBits
        self.codebookBits = codebookBits
        self.huffmanValues = huffmanValues
        self.huffmanGaps = huffmanGaps
    }

    /// Raw little-endian elements, nothing else.
    public static let dense = DLATensorEncoding()

    public var isSparse: Bool { gapBits != nil }

    public var description: String {
        var parts: [String] = []
        if let gapBits { parts.append("sparse:g\(gapBits)") }
        if let codebookBits { parts.append("codebook:b\(codebookBits)") }
        if parts.isEmpty { parts.append("dense") }
        switch (huffmanValues, huffmanGaps) {
        case (true, true): parts.append("huffman:\(codebookBits == nil ? "values" : "indices"),gaps")
        case (true, false): parts.append("huffman:\(codebookBits == nil ? "values" : "indices")")
        case (false, true): parts.append("huffman:gaps")
        case (false, false): break
        }
        return parts.joined(separator: "+")
    }

    /// Whether this encoding can represent tensors of `dataType` (structurally; whether a
    /// codebook fits the actual values is the encoder's question).
    public func applies(to dataType: DLADataType) -> Bool {
        if let gapBits, !(1...8).contains(gapBits) { return false }
        if let codebookBits, !(2...8).contains(codebookBits) { return false }
        if huffmanGaps && gapBits == nil { return false }
        if huffmanValues && codebookBits == nil && dataType.byteWidth != 1 { return false }
        return true
    }

    // On-disk descriptor: flags byte (bit 0 sparse, 1 codebook, 2 Huffman values, 3 Huffman gaps).
    var flags: UInt8 {
        (gapBits != nil ? 1 : 0) | (codebookBits != nil ? 2 : 0) | (huffmanValues ? 4 : 0) | (huffmanGaps ? 8 : 0)
    }
}
