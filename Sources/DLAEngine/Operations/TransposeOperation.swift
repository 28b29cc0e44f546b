/// `rubik` / `transpose`: RUBIK permuting a tensor's axes, the batch (axis 0) kept first.
struct TransposeOperation: EngineOperator {
    let permutation: [Int]

    static func build(_ d: OperationDefinition) throws(EngineError) -> any EngineOperator {
        let input = try d.input(0, "input")
        let permutation = try d.attributes.ints("perm", count: input.sampleShape.count + 1, default: nil)
        guard permutation.first == 0, permutation.sorted() == Array(0...input.sampleShape.count) else {
            throw .invalidParameter(name: "operation '\(d.name)' perm", expected: "a permutation of all axes keeping the batch (axis 0) first", found: "\(permutation)")
        }
        try d.expectOutput(try d.output(), shape: permutation.dropFirst().map { input.sampleShape[$0 - 1] }, type: input.elementType)
        return TransposeOperation(permutation: permutation)
    }

    var requirements: [(HardwareProfile.Capabilities, String)] { [(.rubik, "reshape engine (RUBIK)")] }

    func producedType(input: ActivationSpec.ElementType, output: ActivationSpec.ElementType) -> ActivationSpec.ElementType? { input }

    func cost(_ query: CostQuery) throws(EngineError) -> PlannedCost {
        .fixed(try query.model.dataMovement(.rubik, bytes: query.inputElements))
    }

    func execute(_ operands: [EngineValue], _ operation: UnsafePointer<EngineOperation>,
                 _ context: ExecutionContext) throws(EngineError) -> OperatorOutcome {
        OperatorOutcome(value: try operands[0].transformed(Transpose(permutation: permutation, profile: context.profile)))
    }
}

struct Transpose: TensorTransform {
    let permutation: [Int]
    let profile: HardwareProfile
    func callAsFunction<T: Sendable>(_ tensor: Tensor<T>) throws(EngineError) -> Tensor<T> {
        try Rubik.transpose(tensor, permutation: permutation, profile: profile)
    }
}
