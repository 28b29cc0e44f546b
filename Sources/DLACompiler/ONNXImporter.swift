#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import DLAFormat
import DLANumerics
import ONNXProto
import SwiftProtobuf

/// Reads an ONNX file into a `Graph`: decodes the protobuf, checks the opsets, turns initializers
/// and `Constant` nodes into constants, loads external data kept beside the model, and sorts the
/// nodes topologically. Everything a later pass relies on is checked here, with errors that
/// name the node or tensor.
public enum ONNXImporter {
    /// Default-domain opsets whose operator semantics the compiler implements. Opset 22 only
    /// widened types (bfloat16, …) of the operators we support; newer opsets import when every
    /// node uses no attribute the compiler does not know (opset 23's QuantizeLinear `precision`,
    /// say), which is how an operator's changed semantics show up.
    public static let supportedOpsets = 13...23
    public static let supportedOpsetText = "13 to 21, and 22–23 for operators whose semantics did not change"

    public static func load(path: String) throws(CompilerError) -> Graph {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .invalidOption("cannot read '\(path)': \(describeFileError(error))")
        }
        // External data lives beside the model: its folder, "/" at the root, "." for a bare name.
        let directory = path.lastIndex(of: "/").map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        return try importModel(data, externalDataDirectory: directory)
    }

    /// `externalDataDirectory`: where external tensor data is looked up (the model's folder);
    /// nil refuses external data.
    public static func importModel(_ data: Data, externalDataDirectory: String? = nil) throws(CompilerError) -> Graph {
        let model: Onnx_ModelProto
        do {
            var options = BinaryDecodingOptions()
            options.messageDepthLimit = 64
            model = try Onnx_ModelProto(serializedBytes: data, options: options)
        } catch {
            throw .notONNX("protobuf decoding failed (\(error))")
        }
        guard model.hasGraph else { throw .notONNX("the file has no graph (ModelProto.graph is missing)") }
        guard model.irVersion >= 3 else {
            throw .invalidModel("IR version \(model.irVersion) is too old (need 3 or newer, with opset imports)")
        }
        var opset: Int?
        for entry in model.opsetImport {
            switch entry.domain {
            case "", "ai.onnx":
                let version = Int(entry.version)
                guard supportedOpsets.contains(version) else {
                    throw .unsupportedOpset(domain: entry.domain, version: version, supported: supportedOpsetText)
                }
                opset = version
            case "com.microsoft", "ai.onnx.ml":
                continue
            default:
                continue
            }
        }
        guard let opset else { throw .invalidModel("the model imports no default-domain (ai.onnx) opset") }
        return try GraphReader(opset: opset, externalDataDirectory: externalDataDirectory).read(model.graph)
    }
}

/// Converts one `GraphProto`.
struct GraphReader {
    let opset: Int
    let externalDataDirectory: String?

    func read(_ proto: Onnx_GraphProto) throws(CompilerError) -> Graph {
        var constants: [String: ConstantTensor] = [:]
        for initializer in proto.initializer {
            guard !initializer.name.isEmpty else { throw .invalidModel("an initializer has no name") }
            constants[initializer.name] = try tensor(initializer)
        }
        guard proto.sparseInitializer.isEmpty else {
            throw .invalidModel("sparse initializers are not supported (store the tensor dense; the compiler finds the zeros)")
        }
        let inputs = try proto.input.filter { constants[$0.name] == nil }.map { proto throws(CompilerError) in try value(proto) }
        let outputs = try proto.output.map { proto throws(CompilerError) in try value(proto) }
        guard !inputs.isEmpty else { throw .invalidModel("the graph has no inputs") }
        guard !outputs.isEmpty else { throw .invalidModel("the graph has no outputs") }

        var nodes: [GraphNode] = []
        for (index, proto) in proto.node.enumerated() {
            let name = proto.name.isEmpty ? "\(proto.opType)_\(index)" : proto.name
            var attributes: [String: AttributeValue] = [:]
            for attribute in proto.attribute {
                attributes[attribute.name] = try self.attribute(attribute, node: name)
            }
            if proto.opType == "Constant", proto.domain.isEmpty || proto.domain == "ai.onnx" {
                guard proto.output.count == 1 else { throw .invalidModel("Constant '\(name)' must have one output") }
                constants[proto.output[0]] = try constantValue(attributes, node: name)
                continue
            }
            nodes.append(GraphNode(name: name, opType: proto.opType, domain: proto.domain == "ai.onnx" ? "" : proto.domain,
                                   inputs: proto.input, outputs: proto.output, attributes: attributes))
        }
        let sorted = try Self.topologicallySorted(nodes, available: Set(inputs.map(\.name)).union(constants.keys))
        for output in outputs where !sorted.contains(where: { $0.outputs.contains(output.name) })
            && !inputs.contains(where: { $0.name == output.name }) && constants[output.name] == nil {
            throw .missingTensor(node: "the graph output list", tensor: output.name)
        }
        return Graph(name: proto.name, opset: opset, inputs: inputs, outputs: outputs, nodes: sorted, constants: constants)
    }

    /// Kahn's algorithm; a node whose input nothing defines is reported by name.
    static func topologicallySorted(_ nodes: [GraphNode], available: Set<String>) throws(CompilerError) -> [GraphNode] {
        var defined = available
        var producers: [String: Int] = [:]
        for (index, node) in nodes.enumerated() {
            for output in node.outputs where !output.isEmpty {
                guard producers[output] == nil, !available.contains(output) else {
                    throw .invalidModel("tensor '\(output)' is defined twice (again by \(node.label))")
                }
                producers[output] = index
            }
        }
        for node in nodes {
            for input in node.inputs where !input.isEmpty && producers[input] == nil && !available.contains(input) {
                throw .missingTensor(node: node.label, tensor: input)
            }
        }
        var remaining = Array(nodes.indices)
        var sorted: [GraphNode] = []
        while !remaining.isEmpty {
            let ready = remaining.filter { nodes[$0].inputs.allSatisfy { $0.isEmpty || defined.contains($0) } }
            guard !ready.isEmpty else {
                throw .invalidModel("the graph has a cycle through \(nodes[remaining[0]].label)")
            }
            for index in ready {
                sorted.append(nodes[index])
                defined.formUnion(nodes[index].outputs)
            }
            let readySet = Set(ready)
            remaining.removeAll { readySet.contains($0) }
        }
        return sorted
    }

    func value(_ proto: Onnx_ValueInfoProto) throws(CompilerError) -> GraphValue {
        guard case .tensorType(let tensorType)? = proto.type.value else {
            throw .invalidModel("graph input/output '\(proto.name)' is not a tensor")
        }
        guard let type = ElementType(rawValue: Int(tensorType.elemType)) else {
            throw .invalidModel("graph input/output '\(proto.name)' has unsupported element type \(tensorType.elemType)")
        }
        let shape: [Dimension] = tensorType.shape.dim.map { dimension in
            switch dimension.value {
            case .dimValue(let value)?: .fixed(Int(value))
            case .dimParam(let name)?: .symbolic(name)
            case nil: .symbolic("")
            }
        }
        return GraphValue(name: proto.name, elementType: type, shape: shape)
    }

    func attribute(_ proto: Onnx_AttributeProto, node: String) throws(CompilerError) -> AttributeValue {
        guard proto.refAttrName.isEmpty else {
            throw .unsupportedAttribute(node: node, attribute: proto.name, reason: "refers to a function attribute (functions are not supported)")
        }
        switch proto.type {
        case .float: return .float(proto.f)
        case .int: return .int(proto.i)
        case .string: return .string(String(decoding: proto.s, as: UTF8.self))
        case .tensor: return .tensor(try tensor(proto.t))
        case .floats: return .floats(proto.floats)
        case .ints: return .ints(proto.ints)
        case .undefined:
            // Producers before IR 3 omitted the type; infer it from the populated field.
            if !proto.ints.isEmpty { return .ints(proto.ints) }
            if !proto.floats.isEmpty { return .floats(proto.floats) }
            if proto.hasT { return .tensor(try tensor(proto.t)) }
            if proto.hasS { return .string(String(decoding: proto.s, as: UTF8.self)) }
            if proto.hasF { return .float(proto.f) }
            return .int(proto.i)
        default:
            throw .unsupportedAttribute(node: node, attribute: proto.name, reason: "has type \(proto.type) (graphs, strings lists and sparse tensors are not supported)")
        }
    }

    func constantValue(_ attributes: [String: AttributeValue], node: String) throws(CompilerError) -> ConstantTensor {
        switch attributes.first?.value {
        case .tensor(let tensor)? where attributes.count == 1: return tensor
        case .float(let value)?: return ConstantTensor(floats: [value], shape: [])
        case .floats(let values)?: return ConstantTensor(floats: values, shape: [values.count])
        case .int(let value)?: return ConstantTensor(elementType: .int64, shape: [], storage: .integers([value]))
        case .ints(let values)?: return ConstantTensor(elementType: .int64, shape: [values.count], storage: .integers(values))
        default: throw .unsupportedAttribute(node: "Constant '\(node)'", attribute: attributes.keys.sorted().joined(separator: ","), reason: "is not a tensor or number")
        }
    }

    func tensor(_ proto: Onnx_TensorProto) throws(CompilerError) -> ConstantTensor {
        let name = proto.name
        guard let type = ElementType(rawValue: Int(proto.dataType)) else {
            throw .invalidModel("tensor '\(name)' has unsupported element type \(proto.dataType)")
        }
        var shape: [Int] = []
        var count = 1
        for dimension in proto.dims {
            guard dimension >= 0, dimension < 1 << 31 else { throw .invalidModel("tensor '\(name)' has dimension \(dimension)") }
            let (product, overflow) = count.multipliedReportingOverflow(by: Int(dimension))
            guard !overflow, product <= 1 << 31 else { throw .invalidModel("tensor '\(name)' has too many elements") }
            count = product
            shape.append(Int(dimension))
        }
        var raw: Data?
        if proto.dataLocation == .external {
            raw = try externalBytes(proto)
        } else if proto.hasRawData {
            raw = proto.rawData
        }
        func expect(_ found: Int) throws(CompilerError) {
            guard found == count else {
                throw .invalidModel("tensor '\(name)' of shape \(shape) holds \(found) values, expected \(count)")
            }
        }
        if let raw {
            let width = Self.byteWidth(type)
            try expect(raw.count / width)
            guard raw.count % width == 0 else { throw .invalidModel("tensor '\(name)' raw data is \(raw.count) bytes, not a multiple of \(width)") }
            let bytes = [UInt8](raw)
            switch type {
            case .float32:
                return ConstantTensor(elementType: type, shape: shape, storage: .floats(Self.littleEndian(bytes, width: 4).map { Float(bitPattern: UInt32(truncatingIfNeeded: $0)) }))
            case .float64:
                return ConstantTensor(elementType: type, shape: shape, storage: .floats(Self.littleEndian(bytes, width: 8).map { Float(Double(bitPattern: $0)) }))
            case .float16:
                return ConstantTensor(elementType: type, shape: shape, storage: .floats(Self.littleEndian(bytes, width: 2).map { FP16.decode(UInt16(truncatingIfNeeded: $0)) }))
            case .int32:
                return ConstantTensor(elementType: type, shape: shape, storage: .integers(Self.littleEndian(bytes, width: 4).map { Int64(Int32(bitPattern: UInt32(truncatingIfNeeded: $0))) }))
            case .int64:
                return ConstantTensor(elementType: type, shape: shape, storage: .integers(Self.littleEndian(bytes, width: 8).map { Int64(bitPattern: $0) }))
            case .int8, .uint8, .fp8e4m3fn, .fp8e5m2:
                return ConstantTensor(elementType: type, shape: shape, storage: .bytes(bytes))
            }
        }
        switch type {
        case .float32:
            try expect(proto.floatData.count)
            return ConstantTensor(elementType: type, shape: shape, storage: .floats(proto.floatData))
        case .float64:
            try expect(proto.doubleData.count)
            return ConstantTensor(elementType: type, shape: shape, storage: .floats(proto.doubleData.map { Float($0) }))
        case .int64:
            try expect(proto.int64Data.count)
            return ConstantTensor(elementType: type, shape: shape, storage: .integers(proto.int64Data))
        case .int32:
            try expect(proto.int32Data.count)
            return ConstantTensor(elementType: type, shape: shape, storage: .integers(proto.int32Data.map { Int64($0) }))
        case .float16:
            // int32_data holds the 16-bit patterns.
            try expect(proto.int32Data.count)
            return ConstantTensor(elementType: type, shape: shape, storage: .floats(proto.int32Data.map { FP16.decode(UInt16(truncatingIfNeeded: $0)) }))
        case .int8, .uint8, .fp8e4m3fn, .fp8e5m2:
            try expect(proto.int32Data.count)
            return ConstantTensor(elementType: type, shape: shape, storage: .bytes(proto.int32Data.map { UInt8(truncatingIfNeeded: $0) }))
        }
    }

    /// External data: a file relative to the model's folder (no absolute paths, no `..`), read
    /// at `offset` for `length` bytes, as the ONNX spec describes.
    func externalBytes(_ proto: Onnx_TensorProto) throws(CompilerError) -> Data {
        var fields: [String: String] = [:]
        for entry in proto.externalData { fields[entry.key] = entry.value }
        let location = fields["location"] ?? ""
        guard let directory = externalDataDirectory else {
            throw .externalData(tensor: proto.name, location: location, reason: "external data is not available when the model is read from memory")
        }
        guard !location.isEmpty, !location.hasPrefix("/"), !location.split(separator: "/").contains("..") else {
            throw .externalData(tensor: proto.name, location: location, reason: "the location must be a relative path inside the model's folder")
        }
        let offset = Int(fields["offset"] ?? "0") ?? -1
        let length = fields["length"].map { Int($0) ?? -1 }
        guard offset >= 0, (length ?? 0) >= 0 else {
            throw .externalData(tensor: proto.name, location: location, reason: "invalid offset or length")
        }
        let path = directory + "/" + location
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .externalData(tensor: proto.name, location: location, reason: "cannot read \(path)")
        }
        let (end, overflow) = length.map { offset.addingReportingOverflow($0) } ?? (data.count, false)
        guard !overflow, offset <= data.count, end <= data.count else {
            throw .externalData(tensor: proto.name, location: location, reason: "offset \(offset) and length \(length ?? 0) exceed the file's \(data.count) bytes")
        }
        return data.subdata(in: offset..<end)
    }

    static func byteWidth(_ type: ElementType) -> Int {
        switch type {
        case .int8, .uint8, .fp8e4m3fn, .fp8e5m2: 1
        case .float16: 2
        case .float32, .int32: 4
        case .int64, .float64: 8
        }
    }

    static func littleEndian(_ bytes: [UInt8], width: Int) -> [UInt64] {
        var values = [UInt64](repeating: 0, count: bytes.count / width)
        for index in values.indices {
            var value: UInt64 = 0
            for byte in 0..<width { value |= UInt64(bytes[index * width + byte]) << (8 * byte) }
            values[index] = value
        }
        return values
    }
}
