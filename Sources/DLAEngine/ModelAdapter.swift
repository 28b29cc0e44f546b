import DLAFormat
import DLANumerics

/// Builds the engine's typed operations from a loaded `.dla` graph, whose operations are generic
/// (unit, type string, typed attributes, weight references), each through its registration in
/// `OperatorTable.standard`. The vocabulary it accepts is the contract with the compiler;
/// docs/EMULATOR.md ("Operation vocabulary") lists it.
///
/// Dimension 0 of every activation tensor is the batch; the rest is one sample's shape.
public enum ModelAdapter {
    public static func compile(_ model: DLALoadedModel) throws(EngineError) -> CompiledModel {
        try compile(model, operators: .standard)
    }

    /// `operators` is the vocabulary: `OperatorTable.standard`, or in tests one with an operation added.
    static func compile(_ model: DLALoadedModel, operators: OperatorTable) throws(EngineError) -> CompiledModel {
        let graph = model.graph
        var tensors: [ActivationSpec] = []
        for spec in graph.tensors {
            tensors.append(try activationSpec(spec))
        }
        var operations: [EngineOperation] = []
        for operation in graph.operations {
            let reader = AttributeReader(operation: operation, weights: model.weights)
            for id in operation.inputs + operation.outputs where id < 0 || id >= tensors.count {
                throw .invalidParameter(name: "operation '\(operation.name)' tensor id", expected: "0..<\(tensors.count)", found: "\(id)")
            }
            guard !operation.inputs.isEmpty, operation.outputs.count == 1 else {
                throw .invalidParameter(name: "operation '\(operation.name)'", expected: "at least one input and exactly one output",
                                        found: "\(operation.inputs.count) inputs, \(operation.outputs.count) outputs")
            }
            guard let registration = operators.registration(unit: operation.unit, type: operation.type) else {
                throw .invalidParameter(name: "operation '\(operation.name)'", expected: "a known unit/type (see docs/EMULATOR.md, Operation vocabulary)", found: "\(operation.unit) \(operation.type)")
            }
            let kind = try registration.build(OperationDefinition(operation: operation, attributes: reader, tensors: tensors))
            operations.append(EngineOperation(name: operation.name, unit: registration.runsOn, type: operation.type, kind: kind,
                                              inputs: operation.inputs, outputs: operation.outputs))
        }
        for id in graph.inputs + graph.outputs where id < 0 || id >= tensors.count {
            throw .invalidParameter(name: "graph input/output tensor id", expected: "0..<\(tensors.count)", found: "\(id)")
        }
        guard !graph.inputs.isEmpty else {
            throw .invalidParameter(name: "graph inputs", expected: "at least one", found: "none")
        }
        return CompiledModel(name: model.metadata.name, targetProfile: model.metadata.targetProfile, tensors: tensors,
                             inputs: graph.inputs, outputs: graph.outputs, operations: operations)
    }

    static func activationSpec(_ spec: DLATensorSpec) throws(EngineError) -> ActivationSpec {
        guard let batch = spec.shape.first, batch == DLATensorSpec.symbolicDimension || batch >= 1 else {
            throw .shapeMismatch(what: "tensor '\(spec.name)' (dimension 0 is the batch)", expected: [-1], found: spec.shape.map { Int($0) })
        }
        let sample = spec.shape.dropFirst().map { Int(truncatingIfNeeded: $0) }
        let type: ActivationSpec.ElementType
        switch spec.dataType {
        case .int8: type = .int8
        case .int32: type = .int32
        case .float32: type = .float32
        case .float16: type = .float16
        case .fp8e4m3: type = .fp8e4m3
        case .fp8e5m2: type = .fp8e5m2
        case .uint8:
            throw .unsupported(unit: "executor", capability: "uint8 activations (tensor '\(spec.name)'; shift them to int8 with zero point − 128)", profile: "any")
        }
        let quantization: ActivationQuantization?
        switch spec.quantization {
        case .none: quantization = nil
        case .perTensor(let scale, let zeroPoint): quantization = ActivationQuantization(scale: scale, zeroPoint: zeroPoint)
        case .perChannel:
            throw .invalidParameter(name: "tensor '\(spec.name)' quantization", expected: "per-tensor for activations", found: "per-channel")
        }
        return ActivationSpec(name: spec.name, sampleShape: sample, elementType: type, quantization: quantization)
    }
}

/// Typed access to a generic operation's attributes, each failure naming the operation and key.
struct AttributeReader {
    let operation: DLAOperation
    let weights: [DLALoadedTensor]

    private func fail(_ key: String, _ expected: String, _ found: DLAAttributeValue?) -> EngineError {
        .invalidParameter(name: "operation '\(operation.name)' attribute '\(key)'", expected: expected, found: found.map { "\($0)" } ?? "nothing")
    }

    func int(_ key: String, default fallback: Int?) throws(EngineError) -> Int {
        switch operation.attribute(key) {
        case .int(let value)?:
            guard value.magnitude <= 1 << 40 else { throw fail(key, "an integer of magnitude at most 2^40", .int(value)) }
            let result = Int(value)
            return result
        case nil:
            guard let fallback else { throw fail(key, "an integer", nil) }
            return fallback
        case let other: throw fail(key, "an integer", other)
        }
    }

    /// An integer that must fit a 32-bit register field exactly (a value out of range is refused,
    /// never clamped: clamping would silently run a different model).
    func int32(_ key: String, default fallback: Int) throws(EngineError) -> Int32 {
        let value = try int(key, default: fallback)
        guard let exact = Int32(exactly: value) else { throw fail(key, "a 32-bit integer", .int(Int64(value))) }
        return exact
    }

    /// SDP's converter registers `<prefix>_offset` (32 bits), `<prefix>_scale` (16 bits signed) and
    /// `<prefix>_shift` (6 bits), each refused when out of its register's range.
    func converter(_ prefix: String, offset defaultOffset: Int) throws(EngineError) -> OutputConverter {
        let offset = try int32("\(prefix)_offset", default: defaultOffset)
        let scale = try int("\(prefix)_scale", default: 1)
        guard let scale16 = Int16(exactly: scale) else { throw fail("\(prefix)_scale", "a 16-bit signed integer", .int(Int64(scale))) }
        let shift = try int("\(prefix)_shift", default: 0)
        guard (0...Int(OutputConverter.maxShift)).contains(shift) else {
            throw fail("\(prefix)_shift", "0...\(OutputConverter.maxShift)", .int(Int64(shift)))
        }
        return OutputConverter(offset: offset, scale: scale16, shift: UInt8(shift))
    }

    func ints(_ key: String, count: Int, default fallback: [Int]?) throws(EngineError) -> [Int] {
        switch operation.attribute(key) {
        case .ints(let values)? where values.count == count && values.allSatisfy({ $0.magnitude <= 1 << 40 }):
            return values.map { Int($0) }
        case nil:
            guard let fallback else { throw fail(key, "\(count) integers", nil) }
            return fallback
        case let other: throw fail(key, "\(count) integers", other)
        }
    }

    func float(_ key: String, default fallback: Float) throws(EngineError) -> Float {
        switch operation.attribute(key) {
        case .float(let value)? where value.isFinite: return value
        case nil: return fallback
        case let other: throw fail(key, "a finite float", other)
        }
    }

    func string(_ key: String, default fallback: String) throws(EngineError) -> String {
        switch operation.attribute(key) {
        case .string(let value)?: return value
        case nil: return fallback
        case let other: throw fail(key, "a string", other)
        }
    }

    private func weightTensor(_ key: String) throws(EngineError) -> DLALoadedTensor? {
        switch operation.attribute(key) {
        case nil: return nil
        case .weight(let index)?:
            guard index >= 0, index < weights.count else { throw fail(key, "a weight index below \(weights.count)", .weight(index)) }
            return weights[index]
        case let other: throw fail(key, "a weight reference", other)
        }
    }

    /// INT8 weights with zero point 0 (NVDLA's weight converter allows no offset, precision.rst).
    func int8Weight(_ key: String) throws(EngineError) -> (shape: [Int], values: [Int8]) {
        guard let tensor = try weightTensor(key) else { throw fail(key, "a weight reference", nil) }
        guard case .int8(let values) = tensor.values else {
            throw fail(key, "int8 weights", .string(tensor.dataType.description))
        }
        switch tensor.quantization {
        case .none: break
        case .perTensor(_, let zeroPoint) where zeroPoint == 0: break
        case .perChannel(_, _, let zeroPoints) where zeroPoints.allSatisfy({ $0 == 0 }): break
        default: throw fail(key, "symmetric weights (zero point 0)", .string("\(tensor.quantization)"))
        }
        return (tensor.shape, values)
    }

    func floats(_ key: String, count: Int) throws(EngineError) -> [Float] {
        switch operation.attribute(key) {
        case .floats(let values)? where values.count == count && values.allSatisfy(\.isFinite): return values
        case let other: throw fail(key, "\(count) finite floats", other)
        }
    }

    /// The shape of a referenced weight tensor, whatever its type.
    func weightShape(_ key: String) throws(EngineError) -> [Int] {
        guard let tensor = try weightTensor(key) else { throw fail(key, "a weight reference", nil) }
        return tensor.shape
    }

    /// FP16 or FP8 weights decoded to Float (exactly). Their scales are not applied here: the
    /// compiler folds them into SDP's `scale`. FP32 weights are refused: their products with
    /// FP16 data are not exact in FP32.
    func floatWeight(_ key: String) throws(EngineError) -> (shape: [Int], values: [Float], precision: Precision) {
        guard let tensor = try weightTensor(key) else { throw fail(key, "a weight reference", nil) }
        switch tensor.values {
        case .float16(let codes): return (tensor.shape, codes.map(FP16.decode), .fp16)
        case .fp8e4m3(let codes): return (tensor.shape, codes.map { FP8.decode($0, .e4m3fn) }, .fp8)
        case .fp8e5m2(let codes): return (tensor.shape, codes.map { FP8.decode($0, .e5m2) }, .fp8)
        default: throw fail(key, "fp16 or fp8 weights", .string(tensor.dataType.description))
        }
    }

    /// A per-channel FP32 vector of `count` values, or nil when the attribute is absent.
    func float32Weight(_ key: String, count: Int) throws(EngineError) -> [Float]? {
        guard let tensor = try weightTensor(key) else { return nil }
        guard case .float32(let values) = tensor.values, values.count == count else {
            throw fail(key, "\(count) float32 values", .string("\(tensor.dataType) × \(tensor.elementCount)"))
        }
        return values
    }

    /// A per-channel INT32 vector of `count` values, or nil when the attribute is absent.
    func int32Weight(_ key: String, count: Int) throws(EngineError) -> [Int32]? {
        guard let tensor = try weightTensor(key) else { return nil }
        guard case .int32(let values) = tensor.values, values.count == count else {
            throw fail(key, "\(count) int32 values", .string("\(tensor.dataType) × \(tensor.elementCount)"))
        }
        return values
    }
}
