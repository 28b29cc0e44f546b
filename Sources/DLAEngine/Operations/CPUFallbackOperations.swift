/// `cpu` / `softmax`: over the last axis in FP32 on the host (`CPUFallback.softmax`), the input
/// dequantized by its tensor's quantization, the result stored as the output tensor holds it.
struct SoftmaxOperation: HostOperator {
    static func build(_ d: OperationDefinition) throws(EngineError) -> any EngineOperator {
        let input = try d.input(0, "input")
        try checkHostOutput(d, input: input) { () throws(EngineError) in
            if input.sampleShape.isEmpty {
                throw .shapeMismatch(what: "operation '\(d.name)' input (a sample axis to normalize, not the batch)", expected: [-1], found: input.sampleShape)
            }
        }
        return SoftmaxOperation()
    }

    func producedType(input: ActivationSpec.ElementType, output: ActivationSpec.ElementType) -> ActivationSpec.ElementType? {
        hostOutputType(output)
    }

    func execute(_ operands: [EngineValue], _ operation: UnsafePointer<EngineOperation>,
                 _ context: ExecutionContext) throws(EngineError) -> OperatorOutcome {
        let probabilities = try CPUFallback.softmax(try operands[0].realValues(context.input(operation)))
        return OperatorOutcome(value: try EngineValue.encoding(probabilities, as: context.output(operation)))
    }
}

/// `cpu` / `quantize`: real values stored as the output tensor holds them (INT8 through the
/// input converter, FP16/FP8 rounded).
struct QuantizeOperation: HostOperator {
    static func build(_ d: OperationDefinition) throws(EngineError) -> any EngineOperator {
        try checkHostOutput(d, input: try d.input(0, "input")) {}
        return QuantizeOperation()
    }

    func producedType(input: ActivationSpec.ElementType, output: ActivationSpec.ElementType) -> ActivationSpec.ElementType? {
        hostOutputType(output)
    }

    func execute(_ operands: [EngineValue], _ operation: UnsafePointer<EngineOperation>,
                 _ context: ExecutionContext) throws(EngineError) -> OperatorOutcome {
        OperatorOutcome(value: try EngineValue.encoding(try operands[0].realValues(context.input(operation)), as: context.output(operation)))
    }
}

/// `cpu` / `dequantize`: real values in FP32.
struct DequantizeOperation: HostOperator {
    static func build(_ d: OperationDefinition) throws(EngineError) -> any EngineOperator {
        let input = try d.input(0, "input")
        try d.expectOutput(try d.output(), shape: input.sampleShape, type: .float32)
        return DequantizeOperation()
    }

    func producedType(input: ActivationSpec.ElementType, output: ActivationSpec.ElementType) -> ActivationSpec.ElementType? { .float32 }

    func execute(_ operands: [EngineValue], _ operation: UnsafePointer<EngineOperation>,
                 _ context: ExecutionContext) throws(EngineError) -> OperatorOutcome {
        OperatorOutcome(value: .float32(try operands[0].realValues(context.input(operation))))
    }
}

/// An operation the host CPU runs (NVDLA has no unit for it): no capability needed, the CPU
/// fallback's fixed cost.
protocol HostOperator: EngineOperator {}

extension HostOperator {
    var requirements: [(HardwareProfile.Capabilities, String)] { [] }

    func cost(_ query: CostQuery) throws(EngineError) -> PlannedCost {
        .fixed(query.model.cpu())
    }
}

/// Softmax and quantize write INT8 or a floating type, the input's sample shape; `checkInput`
/// runs between the output's type and its shape, the order the checks have always failed in.
private func checkHostOutput(_ d: OperationDefinition, input: ActivationSpec, _ checkInput: () throws(EngineError) -> Void) throws(EngineError) {
    let out = try d.output()
    guard out.elementType != .int32 else {
        throw .invalidParameter(name: "operation '\(d.name)' output '\(out.name)' type", expected: "int8 or a floating type", found: out.elementType.rawValue)
    }
    try checkInput()
    try d.expectOutput(out, shape: input.sampleShape, type: out.elementType)
}

/// The arena holds a host operation's INT8 or FP32 result, not FP16/FP8.
private func hostOutputType(_ output: ActivationSpec.ElementType) -> ActivationSpec.ElementType? {
    output == .int8 || output == .float32 ? output : nil
}
