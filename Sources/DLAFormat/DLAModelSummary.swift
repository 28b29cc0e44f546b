#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What `dlactl inspect` and the daemon report about a model: interface, per-operation
/// storage and the compression achieved. Its JSON form (`jsonString()`) is the documented
/// `dlactl inspect --json` schema (docs/FORMAT.md).
public struct DLAModelSummary: Sendable, Codable, Equatable {
    public struct Interface: Sendable, Codable, Equatable {
        public var name: String
        /// -1 marks the symbolic batch dimension.
        public var shape: [Int64]
        public var dtype: String
        public var quantization: Quantization
    }

    public struct Quantization: Sendable, Codable, Equatable {
        /// "none", "per-tensor" or "per-channel".
        public var kind: String
        public var scale: Float?
        public var zeroPoint: Int32?
        public var axis: Int?
        public var channels: Int?
    }

    public struct Tensor: Sendable, Codable, Equatable {
        public var index: Int
        public var name: String
        public var dtype: String
        public var shape: [Int]
        public var encoding: String
        /// Payload bytes plus 8 bytes per (scale, zero point) pair.
        public var storedBytes: Int
        public var elements: Int
        public var nonzeros: Int
        public var density: Double
        public var bitsPerWeight: Double
    }

    public struct Operation: Sendable, Codable, Equatable {
        public var name: String
        public var unit: String
        public var type: String
        /// Data type of the op's largest weight tensor, else of its first output.
        public var precision: String
        /// Shape of the op's first output (activation).
        public var shape: [Int64]
        /// Shape of the op's largest weight tensor, empty without weights.
        public var weightShape: [Int]
        /// Indices of the weights-section tensors the op references.
        public var weights: [Int]
        public var storedBytes: Int
        public var parameters: Int
        public var density: Double
        /// Encoding of the largest weight tensor, "none" without weights.
        public var encoding: String
        public var bitsPerWeight: Double
    }

    public struct Signature: Sendable, Codable, Equatable {
        /// "unsigned", "valid" or "invalid".
        public var status: String
        public var keyID: String?
        public var reason: String?
    }

    public var name: String
    public var description: String
    public var producer: String
    public var createdAt: Int64
    public var precision: String
    public var profile: String
    /// The producer-assigned model version.
    public var version: Int64
    public var formatVersion: String
    /// SHA-256 (hex) of the file before its trailer: the model's identity.
    public var sha256: String
    public var signature: Signature
    public var inputs: [Interface]
    public var outputs: [Interface]
    public var ops: [Operation]
    public var tensors: [Tensor]
    /// Elements of all weights-section tensors (weights and biases).
    public var parameters: Int
    public var nonzeroParameters: Int
    /// Stored parameter payload: encoded weights, indices, codebooks, Huffman tables,
    /// scales and zero points, biases. Excludes metadata, graph, self-tests and padding.
    public var parameterBytes: Int
    /// 4 bytes per weight and bias element: the uncompressed FP32 baseline.
    public var fp32Bytes: Int
    public var fileBytes: Int
    /// fp32Bytes / parameterBytes (0 when there are no parameters).
    public var compressionRatio: Double

    public init(_ loaded: DLALoadedModel) {
        let metadata = loaded.metadata
        name = metadata.name
        description = metadata.description
        producer = metadata.producer
        createdAt = metadata.createdAt
        precision = metadata.precision
        profile = metadata.targetProfile
        version = metadata.modelVersion
        formatVersion = loaded.formatVersion.description
        sha256 = loaded.digestHex
        switch loaded.signature {
        case .unsigned: signature = Signature(status: "unsigned")
        case .valid(let keyID): signature = Signature(status: "valid", keyID: keyID)
        case .invalid(let keyID, let reason): signature = Signature(status: "invalid", keyID: keyID, reason: reason)
        }
        inputs = metadata.inputs.map(Self.interface)
        outputs = metadata.outputs.map(Self.interface)
        tensors = loaded.weights.enumerated().map { index, tensor in
            let stored = tensor.storedBytes + 8 * tensor.quantization.parameterCount
            return Tensor(index: index, name: tensor.name, dtype: tensor.dataType.description, shape: tensor.shape,
                          encoding: tensor.encoding.description, storedBytes: stored, elements: tensor.elementCount,
                          nonzeros: tensor.nonzeroCount, density: tensor.density,
                          bitsPerWeight: Self.ratio(Double(stored * 8), tensor.elementCount))
        }
        let tensors = self.tensors
        ops = loaded.graph.operations.map { operation in
            let references = operation.weightReferences
            var unique: [Int] = []
            for index in references where !unique.contains(index) { unique.append(index) }
            let stored = unique.reduce(0) { $0 + tensors[$1].storedBytes }
            let parameters = unique.reduce(0) { $0 + tensors[$1].elements }
            let nonzeros = unique.reduce(0) { $0 + tensors[$1].nonzeros }
            let largest = unique.max { tensors[$0].elements < tensors[$1].elements }
            let firstOutput = operation.outputs.first.map { loaded.graph.tensors[$0] }
            return Operation(
                name: operation.name, unit: operation.unit.description, type: operation.type,
                precision: largest.map { tensors[$0].dtype } ?? firstOutput?.dataType.description ?? "",
                shape: firstOutput?.shape ?? [], weightShape: largest.map { tensors[$0].shape } ?? [],
                weights: unique, storedBytes: stored, parameters: parameters,
                density: Self.ratio(Double(nonzeros), parameters),
                encoding: largest.map { tensors[$0].encoding } ?? "none",
                bitsPerWeight: Self.ratio(Double(stored * 8), parameters))
        }
        parameters = tensors.reduce(0) { $0 + $1.elements }
        nonzeroParameters = tensors.reduce(0) { $0 + $1.nonzeros }
        parameterBytes = tensors.reduce(0) { $0 + $1.storedBytes }
        fp32Bytes = 4 * parameters
        fileBytes = loaded.fileBytes
        compressionRatio = Self.ratio(Double(fp32Bytes), parameterBytes)
    }

    /// Pretty-printed JSON with sorted keys (stable output for scripts and diffs).
    public func jsonString() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    private static func ratio(_ numerator: Double, _ denominator: Int) -> Double {
        denominator == 0 ? 0 : numerator / Double(denominator)
    }

    private static func interface(_ spec: DLATensorSpec) -> Interface {
        let quantization: Quantization
        switch spec.quantization {
        case .none: quantization = Quantization(kind: "none")
        case .perTensor(let scale, let zeroPoint): quantization = Quantization(kind: "per-tensor", scale: scale, zeroPoint: zeroPoint)
        case .perChannel(let axis, let scales, _): quantization = Quantization(kind: "per-channel", axis: axis, channels: scales.count)
        }
        return Interface(name: spec.name, shape: spec.shape, dtype: spec.dataType.description, quantization: quantization)
    }
}
