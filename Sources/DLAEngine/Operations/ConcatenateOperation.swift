/// `bdma` / `concat`: BDMA copying its inputs side by side along a sample axis: INT8 codes, or
/// FP16/FP8 values (carried as float32) of one kind.
struct ConcatenateOperation: EngineOperator {
    /// The axis in the batched tensors (the file's sample axis + 1).
    let axis: Int

    static func build(_ d: OperationDefinition) throws(EngineError) -> any EngineOperator {
        let first = try d.input(0, "input")
        let axis = try d.attributes.int("axis", default: 0)
        guard first.elementType != .int32, (0..<first.sampleShape.count).contains(axis) else {
            throw .invalidParameter(name: "operation '\(d.name)' axis", expected: "an axis of the int8 or floating inputs' \(first.sampleShape.count) sample axes",
                                    found: "\(axis) (\(first.elementType.rawValue))")
        }
        // BDMA copies INT8 codes, or floating values (FP16/FP8/FP32 all carried as float32).
        func sameKind(_ type: ActivationSpec.ElementType) -> Bool {
            first.elementType.isFloatingPoint ? type.isFloatingPoint : type == first.elementType
        }
        let kind = first.elementType.isFloatingPoint ? "floating" : first.elementType.rawValue
        var shape = first.sampleShape
        shape[axis] = 0
        for position in d.operation.inputs.indices {
            let part = try d.input(position, "input")
            var expected = first.sampleShape
            expected[axis] = part.sampleShape.count == expected.count ? part.sampleShape[axis] : -1
            guard part.sampleShape == expected, sameKind(part.elementType) else {
                throw .shapeMismatch(what: "operation '\(d.name)' input '\(part.name)' (\(kind) expected, \(part.elementType.rawValue) found)",
                                     expected: expected, found: part.sampleShape)
            }
            shape[axis] += part.sampleShape[axis]
        }
        let out = try d.output()
        guard out.sampleShape == shape, sameKind(out.elementType) else {
            throw .shapeMismatch(what: "operation '\(d.name)' output '\(out.name)' (\(kind) expected, \(out.elementType.rawValue) found)",
                                 expected: shape, found: out.sampleShape)
        }
        return ConcatenateOperation(axis: axis + 1)
    }

    var requirements: [(HardwareProfile.Capabilities, String)] { [(.bdma, "bridge DMA (BDMA)")] }

    func producedType(input: ActivationSpec.ElementType, output: ActivationSpec.ElementType) -> ActivationSpec.ElementType? { .int8 }

    func cost(_ query: CostQuery) throws(EngineError) -> PlannedCost {
        .fixed(try query.model.dataMovement(.bdma, bytes: query.outputElements))
    }

    func execute(_ operands: [EngineValue], _ operation: UnsafePointer<EngineOperation>,
                 _ context: ExecutionContext) throws(EngineError) -> OperatorOutcome {
        if case .float32? = operands.first {
            let parts = try operands.map { value throws(EngineError) in try value.floats(of: operation) }
            return OperatorOutcome(value: .float32(try BDMA.concatenate(parts, axis: axis, profile: context.profile)))
        }
        let parts = try operands.map { value throws(EngineError) in try value.int8(of: operation) }
        return OperatorOutcome(value: .int8(try BDMA.concatenate(parts, axis: axis, profile: context.profile)))
    }
}
