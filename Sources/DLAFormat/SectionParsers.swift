/// Parses the metadata section.
enum MetadataParser {
    static func parse(_ bytes: [UInt8], _ range: Range<Int>, tolerateTrailing: Bool) throws(DLAFormatError) -> DLAMetadata {
        var reader = ByteReader(bytes, section: DLASectionKind.metadata.name, range: range)
        let name = try reader.string("name")
        let description = try reader.string("description")
        let producer = try reader.string("producer")
        let createdAt = try reader.i64("created-at")
        let targetProfile = try reader.string("target profile")
        let precision = try reader.string("precision")
        let modelVersion = try reader.i64("model version")
        var inputs: [DLATensorSpec] = []
        let inputCount = try reader.count("input count", minimumElementSize: 7)
        for index in 0..<inputCount {
            reader.context = "input \(index)"
            inputs.append(try reader.tensorSpec())
        }
        reader.context = nil
        var outputs: [DLATensorSpec] = []
        let outputCount = try reader.count("output count", minimumElementSize: 7)
        for index in 0..<outputCount {
            reader.context = "output \(index)"
            outputs.append(try reader.tensorSpec())
        }
        reader.context = nil
        var properties: [DLAProperty] = []
        let propertyCount = try reader.count("property count", minimumElementSize: 8)
        for index in 0..<propertyCount {
            reader.context = "property \(index)"
            properties.append(DLAProperty(key: try reader.string("key"), value: try reader.string("value")))
        }
        try reader.expectEnd(tolerateTrailing: tolerateTrailing)
        return DLAMetadata(name: name, description: description, producer: producer, createdAt: createdAt,
                           targetProfile: targetProfile, precision: precision, modelVersion: modelVersion,
                           inputs: inputs, outputs: outputs, properties: properties)
    }
}

/// Parses the graph section and checks its structure: ids in range, single assignment,
/// topological order, no dangling tensors, interface equal to the metadata's.
enum GraphParser {
    static func parse(_ bytes: [UInt8], _ range: Range<Int>, metadata: DLAMetadata, weightCount: Int,
                      limits: DLAResourceLimits, tolerateTrailing: Bool) throws(DLAFormatError) -> DLAGraph {
        var reader = ByteReader(bytes, section: DLASectionKind.graph.name, range: range)
        let tensorCount = try reader.count("tensor count", minimumElementSize: 11)
        var tensors: [DLATensorSpec] = []
        tensors.reserveCapacity(tensorCount)
        for index in 0..<tensorCount {
            reader.context = "tensor \(index)"
            let idOffset = reader.position
            let id = try reader.u32("tensor id")
            guard id == UInt32(index) else { throw reader.error(.invalidGraph, "tensor id \(id) should be \(index)", at: idOffset) }
            tensors.append(try reader.tensorSpec())
        }
        reader.context = nil
        let inputsOffset = reader.position
        let inputs = try ids(&reader, "graph input", tensorCount: tensorCount)
        let outputsOffset = reader.position
        let outputs = try ids(&reader, "graph output", tensorCount: tensorCount)
        try checkInterface(inputs, metadata.inputs, tensors, "input", reader, at: inputsOffset)
        try checkInterface(outputs, metadata.outputs, tensors, "output", reader, at: outputsOffset)

        var available = [Bool](repeating: false, count: tensorCount)
        var consumed = [Bool](repeating: false, count: tensorCount)
        for id in inputs {
            guard !available[id] else { throw reader.error(.invalidGraph, "tensor \(id) is listed twice as a graph input", at: inputsOffset) }
            available[id] = true
        }
        let operationCountOffset = reader.position
        let operationCount = try reader.count("operation count", minimumElementSize: 21)
        guard operationCount <= limits.maxOperations else {
            throw reader.error(.limitExceeded, "\(operationCount) operations exceed DLAResourceLimits.maxOperations = \(limits.maxOperations)",
                               at: operationCountOffset)
        }
        var operations: [DLAOperation] = []
        operations.reserveCapacity(operationCount)
        for index in 0..<operationCount {
            reader.context = "operation \(index)"
            let name = try reader.string("operation name")
            reader.context = "operation \(index) '\(name)'"
            let unitOffset = reader.position
            let unitCode = try reader.u8("unit")
            guard let unit = DLAUnit(rawValue: unitCode) else { throw reader.error(.malformed, "unknown unit code \(unitCode)", at: unitOffset) }
            let type = try reader.string("operation type")
            let opInputsOffset = reader.position
            let opInputs = try ids(&reader, "input", tensorCount: tensorCount)
            for id in opInputs {
                guard available[id] else {
                    throw reader.error(.invalidGraph, "input tensor \(id) '\(tensors[id].name)' is not produced before this operation", at: opInputsOffset)
                }
                consumed[id] = true
            }
            let opOutputsOffset = reader.position
            let opOutputs = try ids(&reader, "output", tensorCount: tensorCount)
            guard !opOutputs.isEmpty else { throw reader.error(.invalidGraph, "operation has no outputs", at: opOutputsOffset) }
            for id in opOutputs {
                guard !available[id] else {
                    throw reader.error(.invalidGraph, "output tensor \(id) '\(tensors[id].name)' is already produced or a graph input", at: opOutputsOffset)
                }
                available[id] = true
            }
            let attributeCount = try reader.count("attribute count", minimumElementSize: 5)
            var attributes: [DLAAttribute] = []
            attributes.reserveCapacity(attributeCount)
            for _ in 0..<attributeCount {
                let keyOffset = reader.position
                let key = try reader.string("attribute key")
                guard !attributes.contains(where: { $0.key == key }) else {
                    throw reader.error(.malformed, "attribute '\(key)' appears twice", at: keyOffset)
                }
                attributes.append(DLAAttribute(key, try attributeValue(&reader, key: key, weightCount: weightCount)))
            }
            operations.append(DLAOperation(name: name, unit: unit, type: type, inputs: opInputs, outputs: opOutputs, attributes: attributes))
        }
        reader.context = nil
        for id in outputs { consumed[id] = true }
        for id in 0..<tensorCount {
            guard available[id] else { throw reader.error(.invalidGraph, "tensor \(id) '\(tensors[id].name)' is never produced", at: range.lowerBound) }
            guard consumed[id] else { throw reader.error(.invalidGraph, "tensor \(id) '\(tensors[id].name)' is dangling (never read, not an output)", at: range.lowerBound) }
        }
        try reader.expectEnd(tolerateTrailing: tolerateTrailing)
        return DLAGraph(tensors: tensors, inputs: inputs, outputs: outputs, operations: operations)
    }

    private static func ids(_ reader: inout ByteReader, _ what: String, tensorCount: Int) throws(DLAFormatError) -> [Int] {
        let count = try reader.count("\(what) count", minimumElementSize: 4)
        var ids: [Int] = []
        ids.reserveCapacity(count)
        for _ in 0..<count {
            let offset = reader.position
            let id = Int(try reader.u32("\(what) id"))
            guard id < tensorCount else {
                throw reader.error(.invalidGraph, "\(what) id \(id) is out of range (\(tensorCount) tensors)", at: offset)
            }
            ids.append(id)
        }
        return ids
    }

    private static func checkInterface(_ ids: [Int], _ specs: [DLATensorSpec], _ tensors: [DLATensorSpec], _ what: String,
                                       _ reader: ByteReader, at offset: Int) throws(DLAFormatError) {
        guard ids.count == specs.count else {
            throw reader.error(.invalidGraph, "graph has \(ids.count) \(what)s, metadata declares \(specs.count)", at: offset)
        }
        for (index, id) in ids.enumerated() where tensors[id] != specs[index] {
            throw reader.error(.invalidGraph, "graph \(what) \(index) (tensor \(id) '\(tensors[id].name)') differs from the metadata's \(what) '\(specs[index].name)'", at: offset)
        }
    }

    private static func attributeValue(_ reader: inout ByteReader, key: String, weightCount: Int) throws(DLAFormatError) -> DLAAttributeValue {
        let kindOffset = reader.position
        let kind = try reader.u8("attribute kind")
        switch kind {
        case 1:
            return .int(try reader.i64("integer attribute"))
        case 2:
            let count = try reader.count("integer list length", minimumElementSize: 8)
            var values: [Int64] = []
            values.reserveCapacity(count)
            for _ in 0..<count { values.append(try reader.i64("integer")) }
            return .ints(values)
        case 3:
            return .float(try reader.f32("float attribute"))
        case 4:
            let count = try reader.count("float list length", minimumElementSize: 4)
            var values: [Float] = []
            values.reserveCapacity(count)
            for _ in 0..<count { values.append(try reader.f32("float")) }
            return .floats(values)
        case 5:
            return .string(try reader.string("string attribute"))
        case 6:
            let offset = reader.position
            let index = Int(try reader.u32("weight reference"))
            guard index < weightCount else {
                throw reader.error(.invalidGraph, "attribute '\(key)' references weight tensor \(index), but the weights section has \(weightCount)", at: offset)
            }
            return .weight(index)
        default:
            throw reader.error(.malformed, "attribute '\(key)' has unknown kind \(kind)", at: kindOffset)
        }
    }
}

/// Parses the weights section: directory, then each payload decoded into execution form.
struct WeightsParser {
    let bytes: [UInt8]
    let range: Range<Int>
    let options: DLAReadOptions
    let tolerateTrailing: Bool

    private struct Entry {
        let name: String
        let dataType: DLADataType
        let encoding: DLATensorEncoding
        let shape: [Int]
        let elementCount: Int
        let quantization: DLAQuantization
        let payload: Range<Int>
        let context: String
    }

    func parse() throws(DLAFormatError) -> [DLALoadedTensor] {
        let section = DLASectionKind.weights.name
        var reader = ByteReader(bytes, section: section, range: range)
        let count = try reader.count("tensor count", minimumElementSize: 30)
        var entries: [Entry] = []
        entries.reserveCapacity(count)
        let fileBudget = bytes.count.multipliedReportingOverflow(by: 4096).partialValue + (64 << 20)
        let byteBudget = min(options.limits.maxWeightBytes, fileBudget)
        var decodedBytes = 0
        for index in 0..<count {
            reader.context = "tensor \(index)"
            let name = try reader.string("tensor name", limit: 1 << 16)
            let context = "tensor \(index) '\(name)'"
            reader.context = context
            let dataType = try reader.dataType()
            let descriptorOffset = reader.position
            let flags = try reader.u8("encoding flags")
            let codebookBits = try reader.u8("codebook bits")
            let gapBits = try reader.u8("gap bits")
            let encoding = try Self.encoding(flags: flags, codebookBits: codebookBits, gapBits: gapBits, dataType: dataType,
                                             reader: reader, at: descriptorOffset)
            let rank = try reader.rank()
            guard rank >= 1 else { throw reader.error(.malformed, "a weights tensor needs at least one dimension", at: reader.position - 1) }
            var shape: [Int] = []
            var elements = 1
            for _ in 0..<rank {
                let offset = reader.position
                let dimension = try reader.u64("dimension")
                guard dimension >= 1, dimension <= UInt64(Int32.max) else {
                    throw reader.error(.malformed, "dimension \(dimension) must be in 1…\(Int32.max)", at: offset)
                }
                let (product, overflow) = elements.multipliedReportingOverflow(by: Int(dimension))
                guard !overflow else { throw reader.error(.limitExceeded, "element count overflows", at: offset) }
                elements = product
                shape.append(Int(dimension))
            }
            let (tensorBytes, overflow) = elements.multipliedReportingOverflow(by: dataType.byteWidth)
            guard !overflow, tensorBytes <= byteBudget - decodedBytes else {
                let reason = byteBudget == options.limits.maxWeightBytes
                    ? "DLAResourceLimits.maxWeightBytes = \(byteBudget)" : "4096 × the file size + 64 MiB = \(byteBudget)"
                throw reader.error(.limitExceeded, "decoded weights would reach \(overflow ? "more than Int.max" : "\(decodedBytes + tensorBytes)") bytes, past \(reason)",
                                   at: descriptorOffset)
            }
            decodedBytes += tensorBytes
            let quantization = try reader.quantization(dataType: dataType, shape: shape.map(Int64.init))
            let payloadOffset = try reader.size64("payload offset", limit: range.count)
            let payloadLength = try reader.size64("payload length", limit: range.count)
            entries.append(Entry(name: name, dataType: dataType, encoding: encoding, shape: shape, elementCount: elements,
                                 quantization: quantization, payload: payloadOffset..<payloadOffset + payloadLength, context: context))
        }
        reader.context = nil
        var expectedPayload = reader.position - range.lowerBound
        var loaded: [DLALoadedTensor] = []
        loaded.reserveCapacity(entries.count)
        for entry in entries {
            guard let aligned = alignUp(expectedPayload, DLAFileLayout.alignment), entry.payload.lowerBound == aligned,
                  entry.payload.upperBound <= range.count else {
                throw DLAFormatError(.malformed, section: section, offset: range.lowerBound + expectedPayload, context: entry.context,
                                     "payload at section offset \(entry.payload.lowerBound) (length \(entry.payload.count)) should start at \(alignUp(expectedPayload, DLAFileLayout.alignment) ?? -1) and end within the section's \(range.count) bytes")
            }
            let padding = range.lowerBound + expectedPayload..<range.lowerBound + entry.payload.lowerBound
            if let nonZero = padding.first(where: { bytes[$0] != 0 }) {
                throw DLAFormatError(.malformed, section: section, offset: nonZero, context: entry.context, "alignment padding must be zero")
            }
            let absolute = range.lowerBound + entry.payload.lowerBound..<range.lowerBound + entry.payload.upperBound
            let zeroCodes = ZeroCodes(dataType: entry.dataType, quantization: entry.quantization, shape: entry.shape)
            let values = try TensorPayloadDecoder(bytes: bytes, payload: absolute, dataType: entry.dataType,
                                                  elementCount: entry.elementCount, zeroCodes: zeroCodes,
                                                  encoding: entry.encoding, section: section, context: entry.context).decode()
            let nonzeroCount = DLASparseRows.nonzeroCount(values, zeroCodes: zeroCodes)
            let density = Double(nonzeroCount) / Double(max(1, entry.elementCount))
            let sparseRows = entry.shape.count >= 2 && density <= options.sparseDensityThreshold
                ? DLASparseRows.build(values, shape: entry.shape, zeroCodes: zeroCodes) : nil
            loaded.append(DLALoadedTensor(name: entry.name, shape: entry.shape, quantization: entry.quantization,
                                          encoding: entry.encoding, storedBytes: entry.payload.count, values: values,
                                          nonzeroCount: nonzeroCount, sparseRows: sparseRows))
            expectedPayload = entry.payload.upperBound
        }
        if expectedPayload != range.count && !tolerateTrailing {
            throw DLAFormatError(.malformed, section: section, offset: range.lowerBound + expectedPayload,
                                 "\(range.count - expectedPayload) unexpected bytes after the last payload")
        }
        return loaded
    }

    private static func encoding(flags: UInt8, codebookBits: UInt8, gapBits: UInt8, dataType: DLADataType,
                                 reader: ByteReader, at offset: Int) throws(DLAFormatError) -> DLATensorEncoding {
        guard flags & 0xF0 == 0 else { throw reader.error(.malformed, "unknown encoding flags \(flags)", at: offset) }
        let sparse = flags & 1 != 0, codebook = flags & 2 != 0
        guard sparse == (gapBits != 0), codebook == (codebookBits != 0) else {
            throw reader.error(.malformed, "encoding flags \(flags) disagree with codebook bits \(codebookBits) / gap bits \(gapBits)", at: offset)
        }
        let encoding = DLATensorEncoding(gapBits: sparse ? Int(gapBits) : nil, codebookBits: codebook ? Int(codebookBits) : nil,
                                         huffmanValues: flags & 4 != 0, huffmanGaps: flags & 8 != 0)
        guard encoding.applies(to: dataType) else {
            throw reader.error(.malformed, "encoding \(encoding) (flags \(flags), codebook bits \(codebookBits), gap bits \(gapBits)) is not valid for \(dataType)", at: offset)
        }
        return encoding
    }
}

/// Parses the self-test section and checks each vector against the model interface.
enum SelfTestParser {
    static func parse(_ bytes: [UInt8], _ range: Range<Int>, metadata: DLAMetadata, tolerateTrailing: Bool) throws(DLAFormatError) -> [DLASelfTest] {
        var reader = ByteReader(bytes, section: DLASectionKind.selfTests.name, range: range)
        let count = try reader.count("self-test count", minimumElementSize: 16)
        var tests: [DLASelfTest] = []
        for index in 0..<count {
            reader.context = "self-test \(index)"
            let name = try reader.string("name")
            reader.context = "self-test \(index) '\(name)'"
            let tolerance = try reader.f32("tolerance")
            guard tolerance.isFinite, tolerance >= 0 else {
                throw reader.error(.malformed, "tolerance \(tolerance) must be finite and ≥ 0", at: reader.position - 4)
            }
            let inputs = try tensors(&reader, specs: metadata.inputs, what: "input")
            let outputs = try tensors(&reader, specs: metadata.outputs, what: "output")
            tests.append(DLASelfTest(name: name, inputs: inputs, expectedOutputs: outputs, tolerance: tolerance))
        }
        try reader.expectEnd(tolerateTrailing: tolerateTrailing)
        return tests
    }

    private static func tensors(_ reader: inout ByteReader, specs: [DLATensorSpec], what: String) throws(DLAFormatError) -> [DLASelfTestTensor] {
        let countOffset = reader.position
        let count = try reader.count("\(what) count", minimumElementSize: 10)
        guard count == specs.count else {
            throw reader.error(.malformed, "\(count) \(what)s given, the model has \(specs.count)", at: countOffset)
        }
        var result: [DLASelfTestTensor] = []
        for spec in specs {
            let typeOffset = reader.position
            let type = try reader.dataType()
            guard type == spec.dataType else {
                throw reader.error(.malformed, "\(what) '\(spec.name)' is \(type), the model expects \(spec.dataType)", at: typeOffset)
            }
            let rankOffset = reader.position
            let rank = try reader.rank()
            guard rank == spec.shape.count else {
                throw reader.error(.malformed, "\(what) '\(spec.name)' has rank \(rank), the model expects \(spec.shape.count)", at: rankOffset)
            }
            var shape: [Int] = []
            var elements = 1
            for axis in 0..<rank {
                let offset = reader.position
                let dimension = try reader.u64("dimension")
                let expected = spec.shape[axis]
                guard dimension >= 1, dimension <= UInt64(Int32.max),
                      expected == DLATensorSpec.symbolicDimension || Int64(dimension) == expected else {
                    throw reader.error(.malformed, "\(what) '\(spec.name)' dimension \(axis) is \(dimension), the model expects \(expected)", at: offset)
                }
                let (product, overflow) = elements.multipliedReportingOverflow(by: Int(dimension))
                guard !overflow, product <= DLALimits.maxActivationElements else {
                    throw reader.error(.limitExceeded, "\(what) '\(spec.name)' has too many elements", at: offset)
                }
                elements = product
                shape.append(Int(dimension))
            }
            let lengthOffset = reader.position
            let length = try reader.u64("data length")
            guard length == UInt64(elements) * UInt64(type.byteWidth) else {
                throw reader.error(.malformed, "\(what) '\(spec.name)' holds \(length) bytes, expected \(elements) × \(type.byteWidth)", at: lengthOffset)
            }
            let data = try reader.span(Int(length), "\(what) data")
            result.append(DLASelfTestTensor(shape: shape, values: DLATensorValues.fromLittleEndian(reader.bytes, range: data, dataType: type)))
        }
        return result
    }
}
