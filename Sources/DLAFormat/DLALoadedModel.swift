/// A `.dla` file after strict validation, with weights in execution form.
public struct DLALoadedModel: Sendable {
    public let formatVersion: DLAFormatVersion
    public let metadata: DLAMetadata
    public let graph: DLAGraph
    public let weights: [DLALoadedTensor]
    public let selfTests: [DLASelfTest]
    public let signature: DLASignatureStatus
    /// SHA-256 of every byte before the trailer: identifies the model, signed or not.
    public let digest: [UInt8]
    public let fileBytes: Int

    public var digestHex: String { hexString(digest) }
}

/// One weights tensor in execution form, with how it was stored.
public struct DLALoadedTensor: Sendable {
    public let name: String
    public let shape: [Int]
    public let quantization: DLAQuantization
    public let encoding: DLATensorEncoding
    /// Payload bytes in the file (excluding alignment padding and the directory entry).
    public let storedBytes: Int
    /// Dense values in row-major order.
    public let values: DLATensorValues
    /// Elements that differ from their zero code (see `DLASparseRows`).
    public let nonzeroCount: Int
    /// Row-compressed nonzeros for zero-skipping, present for sparse enough tensors.
    public let sparseRows: DLASparseRows?

    public var dataType: DLADataType { values.dataType }
    public var elementCount: Int { values.count }
    public var density: Double { elementCount == 0 ? 0 : Double(nonzeroCount) / Double(elementCount) }
    public var bitsPerWeight: Double { elementCount == 0 ? 0 : Double(storedBytes * 8) / Double(elementCount) }
}

extension DLAModel {
    /// The writer input that reproduces `loaded` (same encodings).
    public init(_ loaded: DLALoadedModel) {
        self.init(
            metadata: loaded.metadata, graph: loaded.graph,
            weights: loaded.weights.map {
                DLAWeightTensor(name: $0.name, shape: $0.shape, values: $0.values, quantization: $0.quantization, encoding: $0.encoding)
            },
            selfTests: loaded.selfTests)
    }
}
