/// `rubik` / `contract`: RUBIK's contract mode, `[C·sy·sx, H, W]` into `[C, H·sy, W·sx]`
/// (a deconvolution's phases interleaved), image by image.
struct ContractOperation: EngineOperator {
    let strideY: Int
    let strideX: Int

    static func build(_ d: OperationDefinition) throws(EngineError) -> any EngineOperator {
        let input = try d.input(0, "input")
        let stride = try d.attributes.ints("stride", count: 2, default: nil)
        try EngineError.require("operation '\(d.name)' stride[0]", stride[0], in: 1...8)
        try EngineError.require("operation '\(d.name)' stride[1]", stride[1], in: 1...8)
        let phases = stride[0] * stride[1]
        guard input.elementType == .int8, input.sampleShape.count == 3, input.sampleShape[0] % phases == 0 else {
            throw .shapeMismatch(what: "operation '\(d.name)' input (int8 [C, H, W], C a multiple of \(phases))", expected: [-1, -1, -1], found: input.sampleShape)
        }
        try d.expectOutput(try d.output(), shape: [input.sampleShape[0] / phases, input.sampleShape[1] * stride[0], input.sampleShape[2] * stride[1]],
                           type: .int8)
        return ContractOperation(strideY: stride[0], strideX: stride[1])
    }

    var requirements: [(HardwareProfile.Capabilities, String)] { [(.rubik, "reshape engine (RUBIK)")] }

    func producedType(input: ActivationSpec.ElementType, output: ActivationSpec.ElementType) -> ActivationSpec.ElementType? { .int8 }

    func cost(_ query: CostQuery) throws(EngineError) -> PlannedCost {
        .fixed(try query.model.dataMovement(.rubik, bytes: query.inputElements))
    }

    func execute(_ operands: [EngineValue], _ operation: UnsafePointer<EngineOperation>,
                 _ context: ExecutionContext) throws(EngineError) -> OperatorOutcome {
        let input = try operands[0].int8(of: operation)
        return OperatorOutcome(value: .int8(try input.mapSamples(context.output(operation)) { image throws(EngineError) in
            try Rubik.contract(image, strideY: strideY, strideX: strideX, profile: context.profile)
        }))
    }
}
