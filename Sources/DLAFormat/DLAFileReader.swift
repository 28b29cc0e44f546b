extension DLAFile {
    /// Validates and decodes a `.dla` file. Every field is checked before it is used; any
    /// defect throws a `DLAFormatError` naming the section and the byte offset.
    ///
    /// A bad signature is reported in `signature` and thrown only when
    /// `options.requireSignature` is set.
    public static func read(_ bytes: [UInt8], options: DLAReadOptions = DLAReadOptions()) throws(DLAFormatError) -> DLALoadedModel {
        let parser = FileParser(bytes: bytes, options: options)
        return try parser.parse()
    }

    /// The version a file declares, read from its header alone.
    public static func formatVersion(of bytes: [UInt8]) throws(DLAFormatError) -> DLAFormatVersion {
        var reader = ByteReader(bytes, section: "header", range: 0..<bytes.count)
        let magicRange = try reader.span(DLAFileLayout.magic.count, "magic")
        guard bytes[magicRange].elementsEqual(DLAFileLayout.magic) else {
            throw DLAFormatError(.badMagic, section: "header", offset: 0, "not a .dla file (magic bytes differ)")
        }
        return DLAFormatVersion(major: try reader.u16("major version"), minor: try reader.u16("minor version"))
    }
}

private struct SectionEntry {
    let kind: DLASectionKind
    let range: Range<Int>
}

private struct FileParser {
    let bytes: [UInt8]
    let options: DLAReadOptions

    func parse() throws(DLAFormatError) -> DLALoadedModel {
        let version = try DLAFile.formatVersion(of: bytes)
        guard version.major == DLAFormatVersion.current.major else {
            throw DLAFormatError(.unsupportedVersion, section: "header", offset: 8,
                                 "format version \(version) is not supported (this reader understands \(DLAFormatVersion.current.major).x)")
        }
        let (sections, trailerOffset) = try readHeaderAndTable(version: version)
        let (digest, signature) = try readTrailer(at: trailerOffset)

        guard let metadataEntry = sections.first(where: { $0.kind == .metadata }),
              let graphEntry = sections.first(where: { $0.kind == .graph }),
              let weightsEntry = sections.first(where: { $0.kind == .weights }) else {
            throw DLAFormatError(.malformed, section: "section table", offset: DLAFileLayout.headerSize,
                                 "the metadata, graph and weights sections are all required")
        }
        let tolerateTrailing = version.minor > DLAFormatVersion.current.minor
        let metadata = try MetadataParser.parse(bytes, metadataEntry.range, tolerateTrailing: tolerateTrailing)
        let weightCount = try peekCount(weightsEntry)
        let graph = try GraphParser.parse(bytes, graphEntry.range, metadata: metadata, weightCount: weightCount,
                                          limits: options.limits, tolerateTrailing: tolerateTrailing)
        let weights = try WeightsParser(bytes: bytes, range: weightsEntry.range, options: options,
                                        tolerateTrailing: tolerateTrailing).parse()
        try checkWeightsReferenced(graph: graph, weights: weights, at: graphEntry.range.lowerBound)
        var selfTests: [DLASelfTest] = []
        if let selfTestEntry = sections.first(where: { $0.kind == .selfTests }) {
            selfTests = try SelfTestParser.parse(bytes, selfTestEntry.range, metadata: metadata, tolerateTrailing: tolerateTrailing)
        }
        if options.requireSignature {
            switch signature {
            case .valid: break
            case .unsigned:
                throw DLAFormatError(.signatureRequired, section: "trailer", offset: trailerOffset + 40, "the file is unsigned but a signature is required")
            case .invalid(let keyID, let reason):
                throw DLAFormatError(.signatureInvalid, section: "trailer", offset: trailerOffset + 40, "signature by key \(keyID) is invalid: \(reason)")
            }
        }
        return DLALoadedModel(formatVersion: version, metadata: metadata, graph: graph, weights: weights,
                              selfTests: selfTests, signature: signature, digest: digest, fileBytes: bytes.count)
    }

    // MARK: - Header, section table, trailer

    private func readHeaderAndTable(version: DLAFormatVersion) throws(DLAFormatError) -> ([SectionEntry], Int) {
        var header = ByteReader(bytes, section: "header", range: 0..<bytes.count)
        _ = try header.span(12, "magic and version")
        let sectionCount = Int(try header.u32("section count"))
        let fileLengthOffset = header.position
        let fileLength = try header.u64("file length")
        let flagsOffset = header.position
        let flags = try header.u32("flags")
        let crcOffset = header.position
        let storedCRC = try header.u32("header checksum")
        guard storedCRC == CRC32C.checksum(bytes, range: 0..<crcOffset) else {
            throw DLAFormatError(.checksumMismatch, section: "header", offset: crcOffset, "header CRC32C mismatch")
        }
        guard fileLength == UInt64(bytes.count) else {
            throw DLAFormatError(fileLength > UInt64(bytes.count) ? .truncated : .malformed, section: "header", offset: fileLengthOffset,
                                 "header declares \(fileLength) bytes but the file has \(bytes.count)")
        }
        guard flags == 0 else {
            throw DLAFormatError(.malformed, section: "header", offset: flagsOffset, "reserved flags \(flags) must be 0")
        }
        guard (1...DLAFileLayout.maxSections).contains(sectionCount) else {
            throw DLAFormatError(.malformed, section: "header", offset: 12,
                                 "section count \(sectionCount) is outside 1…\(DLAFileLayout.maxSections)")
        }
        let tableEnd = DLAFileLayout.headerSize + sectionCount * DLAFileLayout.sectionEntrySize
        let trailerOffset = bytes.count - DLAFileLayout.trailerSize
        guard trailerOffset >= tableEnd else {
            throw DLAFormatError(.truncated, section: "section table", offset: bytes.count,
                                 "file too short for \(sectionCount) table entries and the trailer")
        }
        var table = ByteReader(bytes, section: "section table", range: DLAFileLayout.headerSize..<tableEnd)
        var entries: [SectionEntry] = []
        var expectedOffset = tableEnd
        var previousKind: UInt32 = 0
        for index in 0..<sectionCount {
            table.context = "entry \(index)"
            let entryStart = table.position
            let rawKind = try table.u32("kind")
            let reservedA = try table.u32("reserved")
            let offsetField = table.position
            let offset = try table.size64("offset", limit: bytes.count)
            let length = try table.size64("length", limit: bytes.count)
            let crc = try table.u32("CRC32C")
            let reservedB = try table.u32("reserved")
            guard reservedA == 0, reservedB == 0 else {
                throw table.error(.malformed, "reserved fields must be 0", at: entryStart + 4)
            }
            guard rawKind > previousKind else {
                throw table.error(.malformed, "section kind \(rawKind) is out of order (kinds must ascend)", at: entryStart)
            }
            previousKind = rawKind
            guard let aligned = alignUp(expectedOffset, DLAFileLayout.alignment), offset == aligned else {
                throw table.error(.malformed, "section offset \(offset) should be \(alignUp(expectedOffset, DLAFileLayout.alignment) ?? -1)", at: offsetField)
            }
            guard length <= trailerOffset - offset else {
                throw table.error(.truncated, "section of \(length) bytes at \(offset) runs past the trailer at \(trailerOffset)", at: offsetField + 8)
            }
            try checkZeroPadding(expectedOffset..<offset, section: "section table")
            let range = offset..<offset + length
            let name = DLASectionKind(rawValue: rawKind)?.name ?? "section of kind \(rawKind)"
            guard CRC32C.checksum(bytes, range: range) == crc else {
                throw DLAFormatError(.checksumMismatch, section: name, offset: offset,
                                     "CRC32C mismatch over bytes \(offset)..<\(offset + length)")
            }
            if let kind = DLASectionKind(rawValue: rawKind) {
                entries.append(SectionEntry(kind: kind, range: range))
            } else if version.minor <= DLAFormatVersion.current.minor {
                throw table.error(.malformed, "unknown section kind \(rawKind) in a version \(version) file", at: entryStart)
            }
            expectedOffset = offset + length
        }
        guard let trailerStart = alignUp(expectedOffset, DLAFileLayout.alignment), trailerStart == trailerOffset else {
            throw DLAFormatError(.malformed, section: "trailer", offset: trailerOffset,
                                 "trailer should start at \(alignUp(expectedOffset, DLAFileLayout.alignment) ?? -1), after the last section")
        }
        try checkZeroPadding(expectedOffset..<trailerOffset, section: "trailer")
        return (entries, trailerOffset)
    }

    private func checkZeroPadding(_ range: Range<Int>, section: String) throws(DLAFormatError) {
        if let index = range.first(where: { bytes[$0] != 0 }) {
            throw DLAFormatError(.malformed, section: section, offset: index, "alignment padding must be zero")
        }
    }

    private func readTrailer(at offset: Int) throws(DLAFormatError) -> ([UInt8], DLASignatureStatus) {
        var reader = ByteReader(bytes, section: "trailer", range: offset..<bytes.count)
        let magic = try reader.span(8, "trailer magic")
        guard bytes[magic].elementsEqual(DLAFileLayout.trailerMagic) else {
            throw reader.error(.malformed, "trailer magic 'DLA-TAIL' not found", at: offset)
        }
        let digestRange = try reader.span(32, "digest")
        let digest = Array(bytes[digestRange])
        guard DLAFile.sha256(bytes, upTo: offset) == digest else {
            throw DLAFormatError(.digestMismatch, section: "trailer", offset: digestRange.lowerBound,
                                 "SHA-256 of bytes 0..<\(offset) does not match the stored digest")
        }
        let algorithmOffset = reader.position
        let algorithm = try reader.u32("signature algorithm")
        let reserved = try reader.u32("reserved")
        let keyID = Array(bytes[try reader.span(8, "key id")])
        let publicKey = Array(bytes[try reader.span(32, "public key")])
        let signature = Array(bytes[try reader.span(64, "signature")])
        guard reserved == 0 else { throw reader.error(.malformed, "reserved field must be 0", at: algorithmOffset + 4) }
        switch algorithm {
        case 0:
            guard (keyID + publicKey + signature).allSatisfy({ $0 == 0 }) else {
                throw reader.error(.malformed, "unsigned trailer must have zero key and signature fields", at: algorithmOffset + 8)
            }
            return (digest, .unsigned)
        case 1:
            let keyIDHex = hexString(keyID)
            guard let key = try? DLAPublicKey(rawRepresentation: publicKey) else {
                return (digest, .invalid(keyID: keyIDHex, reason: "the embedded public key is not a valid Ed25519 key"))
            }
            guard key.keyID == keyID else {
                return (digest, .invalid(keyID: keyIDHex, reason: "key id does not match the embedded public key"))
            }
            guard key.isValidSignature(signature, for: DLAFileLayout.signaturePrefix + digest) else {
                return (digest, .invalid(keyID: keyIDHex, reason: "Ed25519 signature does not verify"))
            }
            if let trusted = options.trustedKeys, !trusted.contains(key) {
                return (digest, .invalid(keyID: keyIDHex, reason: "key is not among the trusted keys"))
            }
            return (digest, .valid(keyID: keyIDHex))
        default:
            throw reader.error(.malformed, "unknown signature algorithm \(algorithm)", at: algorithmOffset)
        }
    }

    private func peekCount(_ entry: SectionEntry) throws(DLAFormatError) -> Int {
        var reader = ByteReader(bytes, section: entry.kind.name, range: entry.range)
        return Int(try reader.u32("tensor count"))
    }

    private func checkWeightsReferenced(graph: DLAGraph, weights: [DLALoadedTensor], at offset: Int) throws(DLAFormatError) {
        var referenced = [Bool](repeating: false, count: weights.count)
        for operation in graph.operations {
            for index in operation.weightReferences { referenced[index] = true }
        }
        if let unused = referenced.firstIndex(of: false) {
            throw DLAFormatError(.invalidGraph, section: "graph section", offset: offset,
                                 "weight tensor \(unused) '\(weights[unused].name)' is not referenced by any operation")
        }
    }
}

// MARK: - Shared field readers

extension ByteReader {
    mutating func quantization(dataType: DLADataType, shape: [Int64]) throws(DLAFormatError) -> DLAQuantization {
        let start = position
        let kind = try u8("quantization kind")
        let quantization: DLAQuantization
        switch kind {
        case 0:
            quantization = .none
        case 1:
            quantization = .perTensor(scale: try f32("scale"), zeroPoint: try i32("zero point"))
        case 2:
            let axis = Int(try u32("quantization axis"))
            let count = try count("scale count", minimumElementSize: 8)
            var scales: [Float] = []
            scales.reserveCapacity(count)
            for _ in 0..<count { scales.append(try f32("scale")) }
            var zeroPoints: [Int32] = []
            zeroPoints.reserveCapacity(count)
            for _ in 0..<count { zeroPoints.append(try i32("zero point")) }
            quantization = .perChannel(axis: axis, scales: scales, zeroPoints: zeroPoints)
        default:
            throw error(.malformed, "unknown quantization kind \(kind)", at: start)
        }
        if let problem = DLALimits.quantizationProblem(quantization, dataType: dataType, shape: shape) {
            throw error(.malformed, problem, at: start)
        }
        return quantization
    }

    mutating func dataType() throws(DLAFormatError) -> DLADataType {
        let start = position
        let code = try u8("data type")
        guard let type = DLADataType(rawValue: code) else { throw error(.malformed, "unknown data type code \(code)", at: start) }
        return type
    }

    mutating func rank() throws(DLAFormatError) -> Int {
        let start = position
        let rank = Int(try u8("rank"))
        guard rank <= DLALimits.maxRank else {
            throw error(.limitExceeded, "rank \(rank) exceeds \(DLALimits.maxRank)", at: start)
        }
        return rank
    }

    /// A tensor spec; the symbolic dimension (-1) is allowed only first.
    mutating func tensorSpec() throws(DLAFormatError) -> DLATensorSpec {
        let name = try string("tensor name")
        let type = try dataType()
        let rank = try rank()
        var shape: [Int64] = []
        var elements: Int64 = 1
        for axis in 0..<rank {
            let start = position
            let dimension = try i64("dimension")
            let symbolic = axis == 0 && dimension == DLATensorSpec.symbolicDimension
            guard symbolic || dimension >= 1 else {
                throw error(.malformed, "dimension \(axis) of '\(name)' is \(dimension); must be ≥ 1 (or -1 for the first, symbolic batch dimension)", at: start)
            }
            let (product, overflow) = elements.multipliedReportingOverflow(by: symbolic ? 1 : dimension)
            guard !overflow, product <= Int64(DLALimits.maxActivationElements) else {
                throw error(.limitExceeded, "tensor '\(name)' exceeds \(DLALimits.maxActivationElements) elements", at: start)
            }
            elements = product
            shape.append(dimension)
        }
        return DLATensorSpec(name: name, shape: shape, dataType: type, quantization: try quantization(dataType: type, shape: shape))
    }

    mutating func expectEnd(tolerateTrailing: Bool) throws(DLAFormatError) {
        context = nil
        guard isAtEnd || tolerateTrailing else {
            throw error(.malformed, "\(remaining) unexpected bytes at the end of the section")
        }
    }
}
