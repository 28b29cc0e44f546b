#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Crypto

/// Reading and writing `.dla` files. The layout is specified in docs/FORMAT.md.
public enum DLAFile {
    /// Serializes `model`, encoding each weights tensor with its requested encoding or, when
    /// none is given, the smallest exact one.
    ///
    /// Output depends only on the inputs: `SOURCE_DATE_EPOCH` in `environment`, when set,
    /// replaces `metadata.createdAt`, so rebuilding a model yields identical bytes. The result
    /// is read back with the strict reader before it is returned, so a model the reader
    /// would reject is never written.
    public static func write(
        _ model: DLAModel, signingKey: DLASigningKey? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(DLAFormatError) -> [UInt8] {
        var model = model
        if let epoch = environment["SOURCE_DATE_EPOCH"] {
            guard let seconds = Int64(epoch) else {
                throw DLAFormatError(.invalidModel, section: "model", "SOURCE_DATE_EPOCH '\(epoch)' is not an integer number of seconds")
            }
            model.metadata.createdAt = seconds
        }
        var payloads: [(DLASectionKind, [UInt8])] = [
            (.metadata, metadataSection(model.metadata)),
            (.graph, graphSection(model.graph)),
            (.weights, try weightsSection(model.weights)),
        ]
        if !model.selfTests.isEmpty { payloads.append((.selfTests, selfTestSection(model.selfTests))) }
        var bytes = assemble(payloads)
        try seal(&bytes, signingKey: signingKey)
        let loaded = try read(bytes)
        for (index, tensor) in model.weights.enumerated() where loaded.weights[index].values != tensor.values {
            throw DLAFormatError(.invalidModel, section: "model", context: "weight tensor \(index) '\(tensor.name)'",
                                 "encoding \(loaded.weights[index].encoding) did not reproduce the values")
        }
        return bytes
    }

    /// Adds (or replaces) the Ed25519 signature of an existing file. The digest does not
    /// cover the trailer, so signing changes nothing else.
    public static func sign(_ bytes: [UInt8], with key: DLASigningKey) throws(DLAFormatError) -> [UInt8] {
        _ = try read(bytes)
        var signed = bytes
        try seal(&signed, signingKey: key)
        return signed
    }

    // MARK: - Layout

    private static func assemble(_ sections: [(DLASectionKind, [UInt8])]) -> [UInt8] {
        let tableEnd = DLAFileLayout.headerSize + sections.count * DLAFileLayout.sectionEntrySize
        var offsets: [Int] = []
        var position = tableEnd
        for (_, payload) in sections {
            position = alignUp(position, DLAFileLayout.alignment) ?? position
            offsets.append(position)
            position += payload.count
        }
        let trailerOffset = alignUp(position, DLAFileLayout.alignment) ?? position
        let fileLength = trailerOffset + DLAFileLayout.trailerSize

        var writer = ByteWriter()
        writer.raw(DLAFileLayout.magic)
        writer.u16(DLAFormatVersion.current.major)
        writer.u16(DLAFormatVersion.current.minor)
        writer.count32(sections.count)
        writer.u64(UInt64(fileLength))
        writer.u32(0)
        writer.u32(CRC32C.checksum(writer.bytes))
        for (index, (kind, payload)) in sections.enumerated() {
            writer.u32(kind.rawValue)
            writer.u32(0)
            writer.u64(UInt64(offsets[index]))
            writer.u64(UInt64(payload.count))
            writer.u32(CRC32C.checksum(payload))
            writer.u32(0)
        }
        for (_, payload) in sections {
            writer.pad(to: DLAFileLayout.alignment)
            writer.raw(payload)
        }
        writer.pad(to: DLAFileLayout.alignment)
        writer.raw([UInt8](repeating: 0, count: DLAFileLayout.trailerSize))
        return writer.bytes
    }

    /// Writes the trailer: digest of everything before it and, with a key, the signature.
    static func seal(_ bytes: inout [UInt8], signingKey: DLASigningKey?) throws(DLAFormatError) {
        let trailer = bytes.count - DLAFileLayout.trailerSize
        let digest = sha256(bytes, upTo: trailer)
        var writer = ByteWriter()
        writer.raw(DLAFileLayout.trailerMagic)
        writer.raw(digest)
        if let signingKey {
            writer.u32(1)
            writer.u32(0)
            writer.raw(signingKey.publicKey.keyID)
            writer.raw(signingKey.publicKey.rawRepresentation)
            writer.raw(try signingKey.sign(DLAFileLayout.signaturePrefix + digest))
        } else {
            writer.raw([UInt8](repeating: 0, count: DLAFileLayout.trailerSize - writer.count))
        }
        bytes.replaceSubrange(trailer..<bytes.count, with: writer.bytes)
    }

    static func sha256(_ bytes: [UInt8], upTo end: Int) -> [UInt8] {
        var hasher = SHA256()
        bytes.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<end])) }
        return Array(hasher.finalize())
    }

    // MARK: - Sections

    private static func metadataSection(_ metadata: DLAMetadata) -> [UInt8] {
        var writer = ByteWriter()
        writer.string(metadata.name)
        writer.string(metadata.description)
        writer.string(metadata.producer)
        writer.i64(metadata.createdAt)
        writer.string(metadata.targetProfile)
        writer.string(metadata.precision)
        writer.i64(metadata.modelVersion)
        writer.count32(metadata.inputs.count)
        for spec in metadata.inputs { writeSpec(spec, &writer) }
        writer.count32(metadata.outputs.count)
        for spec in metadata.outputs { writeSpec(spec, &writer) }
        writer.count32(metadata.properties.count)
        for property in metadata.properties {
            writer.string(property.key)
            writer.string(property.value)
        }
        return writer.bytes
    }

    private static func graphSection(_ graph: DLAGraph) -> [UInt8] {
        var writer = ByteWriter()
        writer.count32(graph.tensors.count)
        for (id, spec) in graph.tensors.enumerated() {
            writer.count32(id)
            writeSpec(spec, &writer)
        }
        writeIDs(graph.inputs, &writer)
        writeIDs(graph.outputs, &writer)
        writer.count32(graph.operations.count)
        for operation in graph.operations {
            writer.string(operation.name)
            writer.u8(operation.unit.rawValue)
            writer.string(operation.type)
            writeIDs(operation.inputs, &writer)
            writeIDs(operation.outputs, &writer)
            writer.count32(operation.attributes.count)
            for attribute in operation.attributes {
                writer.string(attribute.key)
                writer.u8(attribute.value.kindCode)
                switch attribute.value {
                case .int(let value): writer.i64(value)
                case .ints(let values):
                    writer.count32(values.count)
                    for value in values { writer.i64(value) }
                case .float(let value): writer.f32(value)
                case .floats(let values):
                    writer.count32(values.count)
                    for value in values { writer.f32(value) }
                case .string(let value): writer.string(value)
                case .weight(let index): writer.count32(index)
                }
            }
        }
        return writer.bytes
    }

    private static func weightsSection(_ tensors: [DLAWeightTensor]) throws(DLAFormatError) -> [UInt8] {
        var payloads: [[UInt8]] = []
        var encodings: [DLATensorEncoding] = []
        for (index, tensor) in tensors.enumerated() {
            let context = "weight tensor \(index) '\(tensor.name)'"
            try validate(tensor, context: context)
            let encoder = DLATensorEncoder(tensor)
            let encoding = tensor.encoding ?? encoder.smallest().encoding
            do {
                payloads.append(try encoder.encode(encoding))
            } catch {
                throw error.within(context)
            }
            encodings.append(encoding)
        }
        var directory = ByteWriter()
        directory.count32(tensors.count)
        var offsetFields: [Int] = []
        for (index, tensor) in tensors.enumerated() {
            directory.string(tensor.name)
            directory.u8(tensor.dataType.rawValue)
            directory.u8(encodings[index].flags)
            directory.u8(UInt8(encodings[index].codebookBits ?? 0))
            directory.u8(UInt8(encodings[index].gapBits ?? 0))
            directory.u8(UInt8(truncatingIfNeeded: tensor.shape.count))
            for dimension in tensor.shape { directory.u64(UInt64(dimension)) }
            writeQuantization(tensor.quantization, &directory)
            offsetFields.append(directory.count)
            directory.u64(0)
            directory.u64(UInt64(payloads[index].count))
        }
        var section = directory
        for (index, payload) in payloads.enumerated() {
            section.pad(to: DLAFileLayout.alignment)
            section.patch64(at: offsetFields[index], UInt64(section.count))
            section.raw(payload)
        }
        return section.bytes
    }

    private static func selfTestSection(_ tests: [DLASelfTest]) -> [UInt8] {
        var writer = ByteWriter()
        writer.count32(tests.count)
        for test in tests {
            writer.string(test.name)
            writer.f32(test.tolerance)
            for tensors in [test.inputs, test.expectedOutputs] {
                writer.count32(tensors.count)
                for tensor in tensors {
                    writer.u8(tensor.values.dataType.rawValue)
                    writer.u8(UInt8(truncatingIfNeeded: tensor.shape.count))
                    for dimension in tensor.shape { writer.u64(UInt64(truncatingIfNeeded: dimension)) }
                    let data = tensor.values.littleEndianBytes
                    writer.u64(UInt64(data.count))
                    writer.raw(data)
                }
            }
        }
        return writer.bytes
    }

    // MARK: - Fields

    private static func writeSpec(_ spec: DLATensorSpec, _ writer: inout ByteWriter) {
        writer.string(spec.name)
        writer.u8(spec.dataType.rawValue)
        writer.u8(UInt8(truncatingIfNeeded: spec.shape.count))
        for dimension in spec.shape { writer.i64(dimension) }
        writeQuantization(spec.quantization, &writer)
    }

    private static func writeQuantization(_ quantization: DLAQuantization, _ writer: inout ByteWriter) {
        switch quantization {
        case .none:
            writer.u8(0)
        case .perTensor(let scale, let zeroPoint):
            writer.u8(1)
            writer.f32(scale)
            writer.i32(zeroPoint)
        case .perChannel(let axis, let scales, let zeroPoints):
            writer.u8(2)
            writer.count32(axis)
            writer.count32(scales.count)
            for scale in scales { writer.f32(scale) }
            for zeroPoint in zeroPoints { writer.i32(zeroPoint) }
        }
    }

    private static func writeIDs(_ ids: [Int], _ writer: inout ByteWriter) {
        writer.count32(ids.count)
        for id in ids { writer.count32(id) }
    }

    /// Checks what the encoder relies on; everything else is checked by reading back.
    private static func validate(_ tensor: DLAWeightTensor, context: String) throws(DLAFormatError) {
        func fail(_ message: String) -> DLAFormatError {
            DLAFormatError(.invalidModel, section: "model", context: context, message)
        }
        guard !tensor.shape.isEmpty, tensor.shape.count <= DLALimits.maxRank, tensor.shape.allSatisfy({ $0 >= 1 }) else {
            throw fail("shape \(tensor.shape) must have 1…\(DLALimits.maxRank) dimensions, each ≥ 1")
        }
        var product = 1
        for dimension in tensor.shape {
            let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw fail("shape \(tensor.shape) overflows") }
            product = next
        }
        guard product == tensor.values.count else {
            throw fail("shape \(tensor.shape) holds \(product) elements but \(tensor.values.count) values were given")
        }
        if let problem = DLALimits.quantizationProblem(tensor.quantization, dataType: tensor.dataType,
                                                       shape: tensor.shape.map(Int64.init)) {
            throw fail(problem)
        }
    }
}
