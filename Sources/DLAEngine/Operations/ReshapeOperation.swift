/// `cpu` / `reshape` and `flatten`: the same elements in the output tensor's shape. On the
/// arena its output shares its input's bytes.
struct ReshapeOperation: HostOperator {
    static func build(_ d: OperationDefinition) throws(EngineError) -> any EngineOperator {
        let input = try d.input(0, "input")
        let out = try d.output()
        guard input.sampleShape.reduce(1, *) == out.sampleShape.reduce(1, *), input.elementType == out.elementType else {
            throw .shapeMismatch(what: "operation '\(d.name)' reshape of '\(input.name)' to '\(out.name)'", expected: input.sampleShape, found: out.sampleShape)
        }
        return ReshapeOperation()
    }

    func producedType(input: ActivationSpec.ElementType, output: ActivationSpec.ElementType) -> ActivationSpec.ElementType? { input }

    func arenaStep(_ planning: ArenaPlanning) -> ArenaStepPlan {
        planning.output.sampleShape.reduce(1, *) == planning.input.sampleShape.reduce(1, *) ? .alias : .general
    }

    func execute(_ operands: [EngineValue], _ operation: UnsafePointer<EngineOperation>,
                 _ context: ExecutionContext) throws(EngineError) -> OperatorOutcome {
        OperatorOutcome(value: try operands[0].transformed(Reshape(shape: [operands[0].shape[0]] + context.output(operation).sampleShape)))
    }
}

struct Reshape: TensorTransform {
    let shape: [Int]
    func callAsFunction<T: Sendable>(_ tensor: Tensor<T>) throws(EngineError) -> Tensor<T> {
        try tensor.reshaped(shape)
    }
}

/// A shape transformation that works on tensors of any element type.
protocol TensorTransform {
    func callAsFunction<T: Sendable>(_ tensor: Tensor<T>) throws(EngineError) -> Tensor<T>
}

extension EngineValue {
    func transformed(_ transform: some TensorTransform) throws(EngineError) -> EngineValue {
        switch self {
        case .int8(let t): .int8(try transform(t))
        case .int32(let t): .int32(try transform(t))
        case .float32(let t): .float32(try transform(t))
        }
    }
}
