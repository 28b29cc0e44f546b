import DLAFormat

/// One operation of the engine's vocabulary, with everything the engine does with it in its own
/// type: what a profile must have to run it, the element type it produces, how the activation
/// arena runs it, its emulated cost and its execution. The executor and the arena only schedule
/// operators; they never ask which operation they hold. Building one from a `.dla` operation (its
/// validation against the input tensors and the declared output) is its `OperatorRegistration`'s
/// `build`, so an operation lives in its file and in one line of `OperatorTable.standard`.
///
/// Operators are immutable values: the executor and its threads share them.
protocol EngineOperator: Sendable {
    /// What a profile must have to run it, as (capability, its name); `CompiledModel.checkCompatible`
    /// refuses a profile that lacks one.
    var requirements: [(HardwareProfile.Capabilities, String)] { get }

    /// The element type `execute` returns for an input and a declared output of these types (nil:
    /// one the activation arena cannot hold, which keeps the graph on the general path).
    func producedType(input: ActivationSpec.ElementType, output: ActivationSpec.ElementType) -> ActivationSpec.ElementType?

    /// How the activation arena runs it; `.general` copies its operands out and runs `execute`.
    func arenaStep(_ planning: ArenaPlanning) -> ArenaStepPlan

    /// Its emulated cost on one core.
    func cost(_ query: CostQuery) throws(EngineError) -> PlannedCost

    /// Runs it on `operands` (batch first, in the operation's input order). The operation comes by
    /// pointer: passing it by value would retain its arrays on every call.
    func execute(_ operands: [EngineValue], _ operation: UnsafePointer<EngineOperation>,
                 _ context: ExecutionContext) throws(EngineError) -> OperatorOutcome

    /// The operator as this model and executor run it (an SDP may become its fused pass); most
    /// stay as they are.
    func planned(_ planning: OperatorPlanning) -> any EngineOperator
}

extension EngineOperator {
    func arenaStep(_ planning: ArenaPlanning) -> ArenaStepPlan { .general }
    func planned(_ planning: OperatorPlanning) -> any EngineOperator { self }
}

/// What running an operator returned: its output, the strategy a convolution took and the nonzero
/// fraction of a convolution's input (which sets the zero-skipping estimate; nil for other units).
struct OperatorOutcome {
    var value: EngineValue
    var strategy: ConvolutionStrategy? = nil
    var inputDensity: Double? = nil
}

/// What an operator reads of its executor when it runs, fixed per executor.
struct ExecutionContext: Sendable {
    let profile: HardwareProfile
    /// The executor's forced convolution strategy (nil picks per layer).
    let strategy: ConvolutionStrategy?
    let tensors: [ActivationSpec]

    func input(_ operation: UnsafePointer<EngineOperation>) -> ActivationSpec {
        tensors[operation.pointee.inputs[0]]
    }

    func output(_ operation: UnsafePointer<EngineOperation>) -> ActivationSpec {
        tensors[operation.pointee.outputs[0]]
    }
}

/// What an operator's cost depends on: the model's tensors, the rows on one emulated core and
/// where its input comes from.
struct CostQuery {
    let model: PerformanceModel
    let input: ActivationSpec
    let output: ActivationSpec
    let batch: Int
    /// The first input comes straight from a convolution: SDP then reads CACC's output on the fly,
    /// no DRAM.
    let fedByConvolution: Bool

    var inputElements: Int { input.sampleShape.reduce(1, *) * batch }
    var outputElements: Int { output.sampleShape.reduce(1, *) * batch }
}

/// What an operator may specialize on once per executor (`EngineOperator.planned`).
struct OperatorPlanning {
    let model: CompiledModel
    let operation: EngineOperation
    /// False runs every SDP stage by stage (`SDP.run`): the fused pass's twin in tests.
    let fusesSDP: Bool
}

/// What the activation arena's planner knows of one operation: its tensors and the executor's
/// forced strategy (the reference one runs on the general path).
struct ArenaPlanning {
    let tensors: [ActivationSpec]
    let operation: EngineOperation
    let strategy: ConvolutionStrategy?

    var input: ActivationSpec { tensors[operation.inputs[0]] }
    var output: ActivationSpec { tensors[operation.outputs[0]] }
}

/// How the arena runs one operation.
enum ArenaStepPlan {
    /// Straight between arena slots, with `scratchBytes` of per-image scratch after the activations.
    case kernel(any ArenaKernel, scratchBytes: Int)
    /// A reshape: its output shares its input's bytes.
    case alias
    /// Its inputs copied into tensors, `execute`, its output copied back.
    case general
}

/// One registered operation of the `.dla` vocabulary: the unit and type it is written as, the
/// unit it runs on, and how it is built from the file's generic attributes (validated against its
/// input tensors, its declared output checked).
struct OperatorRegistration: Sendable {
    let unit: DLAUnit
    let type: String
    let runsOn: ExecutionUnit
    let build: @Sendable (OperationDefinition) throws(EngineError) -> any EngineOperator
}

/// The vocabulary `ModelAdapter` accepts. docs/EMULATOR.md ("Operation vocabulary") lists it.
struct OperatorTable: Sendable {
    let registrations: [OperatorRegistration]

    func registration(unit: DLAUnit, type: String) -> OperatorRegistration? {
        registrations.first { $0.unit == unit && $0.type == type }
    }

    /// Every operation the engine runs: the one place an operation is registered.
    static let standard = OperatorTable(registrations: [
        OperatorRegistration(unit: .convolution, type: "conv", runsOn: .convolution, build: ConvolutionOperation.build),
        OperatorRegistration(unit: .convolution, type: "fc", runsOn: .convolution, build: FullyConnectedOperation.build),
        OperatorRegistration(unit: .sdp, type: "sdp", runsOn: .sdp, build: SDPOperation.build),
        OperatorRegistration(unit: .pdp, type: "pool", runsOn: .pdp, build: PoolOperation.build),
        OperatorRegistration(unit: .cdp, type: "lrn", runsOn: .cdp, build: LocalResponseNormalizationOperation.build),
        OperatorRegistration(unit: .rubik, type: "transpose", runsOn: .rubik, build: TransposeOperation.build),
        OperatorRegistration(unit: .rubik, type: "contract", runsOn: .rubik, build: ContractOperation.build),
        OperatorRegistration(unit: .bdma, type: "concat", runsOn: .bdma, build: ConcatenateOperation.build),
        OperatorRegistration(unit: .bdma, type: "slice", runsOn: .bdma, build: SliceOperation.build),
        OperatorRegistration(unit: .cpu, type: "reshape", runsOn: .cpu, build: ReshapeOperation.build),
        OperatorRegistration(unit: .cpu, type: "flatten", runsOn: .cpu, build: ReshapeOperation.build),
        OperatorRegistration(unit: .cpu, type: "softmax", runsOn: .cpu, build: SoftmaxOperation.build),
        OperatorRegistration(unit: .cpu, type: "quantize", runsOn: .cpu, build: QuantizeOperation.build),
        OperatorRegistration(unit: .cpu, type: "dequantize", runsOn: .cpu, build: DequantizeOperation.build),
    ])
}

/// A `.dla` operation being built into an operator: its attributes and tensors, and the checks
/// every builder shares, each failure naming the operation.
struct OperationDefinition {
    let operation: DLAOperation
    let attributes: AttributeReader
    let tensors: [ActivationSpec]

    var name: String { operation.name }

    func input(_ position: Int, _ role: String) throws(EngineError) -> ActivationSpec {
        guard position < operation.inputs.count else {
            throw .invalidParameter(name: "operation '\(operation.name)' \(role)", expected: "input \(position)", found: "\(operation.inputs.count) inputs")
        }
        return tensors[operation.inputs[position]]
    }

    func output() throws(EngineError) -> ActivationSpec {
        guard operation.outputs.count == 1 else {
            throw .invalidParameter(name: "operation '\(operation.name)' outputs", expected: "1", found: "\(operation.outputs.count)")
        }
        return tensors[operation.outputs[0]]
    }

    func expectOutput(_ spec: ActivationSpec, shape: [Int], type: ActivationSpec.ElementType) throws(EngineError) {
        guard spec.sampleShape == shape, spec.elementType == type else {
            throw .shapeMismatch(what: "operation '\(operation.name)' output '\(spec.name)' (\(type.rawValue) expected, \(spec.elementType.rawValue) found)", expected: shape, found: spec.sampleShape)
        }
    }
}
