/// `bdma` / `slice`: BDMA copying a range of one sample axis.
struct SliceOperation: EngineOperator {
    /// The axis in the batched tensors (the file's sample axis + 1).
    let axis: Int
    let range: Range<Int>

    static func build(_ d: OperationDefinition) throws(EngineError) -> any EngineOperator {
        let r = d.attributes
        let input = try d.input(0, "input")
        let axis = try r.int("axis", default: 0)
        let start = try r.int("start", default: 0), end = try r.int("end", default: nil)
        guard (0..<input.sampleShape.count).contains(axis), 0 <= start, start <= end, end <= input.sampleShape[axis] else {
            throw .invalidParameter(name: "operation '\(d.name)' slice", expected: "0 ≤ start ≤ end ≤ the size of a sample axis of \(input.sampleShape)",
                                    found: "axis \(axis), \(start)..<\(end)")
        }
        var shape = input.sampleShape
        shape[axis] = end - start
        try d.expectOutput(try d.output(), shape: shape, type: input.elementType)
        return SliceOperation(axis: axis + 1, range: start..<end)
    }

    var requirements: [(HardwareProfile.Capabilities, String)] { [(.bdma, "bridge DMA (BDMA)")] }

    func producedType(input: ActivationSpec.ElementType, output: ActivationSpec.ElementType) -> ActivationSpec.ElementType? { input }

    func cost(_ query: CostQuery) throws(EngineError) -> PlannedCost {
        .fixed(try query.model.dataMovement(.bdma, bytes: query.outputElements))
    }

    func execute(_ operands: [EngineValue], _ operation: UnsafePointer<EngineOperation>,
                 _ context: ExecutionContext) throws(EngineError) -> OperatorOutcome {
        OperatorOutcome(value: try operands[0].transformed(Slice(axis: axis, range: range, profile: context.profile)))
    }
}

struct Slice: TensorTransform {
    let axis: Int
    let range: Range<Int>
    let profile: HardwareProfile
    func callAsFunction<T: Sendable>(_ tensor: Tensor<T>) throws(EngineError) -> Tensor<T> {
        try BDMA.slice(tensor, axis: axis, range: range, profile: profile)
    }
}
