import CDLAKernels

/// `convolution` / `fc`: a fully connected layer as a 1×1 convolution on the convolution core,
/// INT8 into INT32 accumulators (`FloatFullyConnectedOperation` on an FP16/FP8 input).
struct FullyConnectedOperation: EngineOperator {
    let weights: Int8ConvolutionWeights
    let truncation: Int

    /// Validates the weight `[outputs, inputs]` against the flattened input and checks the declared output.
    static func build(_ d: OperationDefinition) throws(EngineError) -> any EngineOperator {
        let r = d.attributes
        let input = try d.input(0, "input")
        guard input.elementType != .int32, input.elementType != .float32 else {
            throw .invalidParameter(name: "operation '\(d.name)' input type", expected: "int8, fp16 or fp8", found: input.elementType.rawValue)
        }
        let features = input.sampleShape.reduce(1, *)
        if input.elementType.isFloatingPoint {
            let decoded = try r.floatWeight("weight")
            guard decoded.shape.count == 2, decoded.shape[1] == features else {
                throw .shapeMismatch(what: "operation '\(d.name)' weight [outputs, inputs]", expected: [decoded.shape.first ?? -1, features], found: decoded.shape)
            }
            try d.expectOutput(try d.output(), shape: [decoded.shape[0]], type: .float32)
            return FloatFullyConnectedOperation(weights: try Tensor(shape: decoded.shape, scalars: decoded.values), precision: decoded.precision)
        }
        let weight = try r.int8Weight("weight")
        guard weight.shape.count == 2, weight.shape[1] == features else {
            throw .shapeMismatch(what: "operation '\(d.name)' weight [outputs, inputs]", expected: [weight.shape.first ?? -1, features], found: weight.shape)
        }
        let weights = try Int8ConvolutionWeights(outputChannels: weight.shape[0], reductionLength: features, values: weight.values)
        try d.expectOutput(try d.output(), shape: [weight.shape[0]], type: .int32)
        return FullyConnectedOperation(weights: weights, truncation: try r.int("truncate", default: 0))
    }

    var requirements: [(HardwareProfile.Capabilities, String)] { [(.int8, "INT8 convolution")] }

    func producedType(input: ActivationSpec.ElementType, output: ActivationSpec.ElementType) -> ActivationSpec.ElementType? { .int32 }

    /// Straight between arena slots through the fast kernels when their exact accumulation holds.
    func arenaStep(_ planning: ArenaPlanning) -> ArenaStepPlan {
        guard planning.strategy != .reference, weights.reductionLength <= Int(DLA_MAX_EXACT_K), planning.input.elementType == .int8,
              planning.input.sampleShape.reduce(1, *) == weights.reductionLength, (0...ConvolutionCore.maximumTruncation).contains(truncation),
              planning.output.sampleShape.reduce(1, *) == weights.outputChannels
        else { return .general }
        return .kernel(FullyConnectedKernel(weights: weights, truncation: truncation), scratchBytes: 0)
    }

    func cost(_ query: CostQuery) throws(EngineError) -> PlannedCost {
        let p = ConvolutionParameters.fullyConnected(inputFeatures: weights.reductionLength, outputFeatures: weights.outputChannels)
        return .convolution(try query.model.convolutionCost(p, precision: .int8, batch: query.batch, weightDensity: weights.density))
    }

    func execute(_ operands: [EngineValue], _ operation: UnsafePointer<EngineOperation>,
                 _ context: ExecutionContext) throws(EngineError) -> OperatorOutcome {
        let input = try operands[0].int8(of: operation)
        let batch = input.shape[0]
        let matrix = try input.reshaped([batch, input.count / max(batch, 1)])
        let result = try ConvolutionCore.int8FullyConnected(input: matrix, weights: weights, truncation: truncation, strategy: context.strategy)
        return OperatorOutcome(value: .int32(result.accumulators), strategy: result.strategy, inputDensity: Density.of(input.scalars))
    }
}

/// An INT8 fully connected layer between arena slots (an object, as `ConvolutionKernel`).
final class FullyConnectedKernel: ArenaKernel {
    let weights: Int8ConvolutionWeights
    let truncation: Int

    init(weights: Int8ConvolutionWeights, truncation: Int) {
        self.weights = weights
        self.truncation = truncation
    }

    func run(_ state: ArenaRunState, _ operation: UnsafePointer<EngineOperation>) -> (ConvolutionStrategy?, Double?) {
        let batch = state.batch
        let count = batch * weights.reductionLength
        let activations = state.slot(operation.pointee.inputs[0], Int8.self, count: count)
        let nonzero = Int(dla_count_nonzero_s8(Int64(count), activations))
        let chosen = state.strategy ?? ConvolutionCore.automaticStrategy(weights: weights, activationCount: count, rows: batch, groups: 1) { nonzero }
        ConvolutionCore.exactFullyConnected(rows: batch, input: activations, weights: weights, truncation: truncation,
                                            strategy: chosen, into: state.slot(operation.pointee.outputs[0], Int32.self, count: batch * weights.outputChannels))
        return (chosen, count == 0 ? 1 : Double(nonzero) / Double(count))
    }
}

/// `convolution` / `fc` on an FP16/FP8 input, as a 1×1 FP convolution per sample.
struct FloatFullyConnectedOperation: EngineOperator {
    let weights: Tensor<Float>
    let precision: Precision

    var requirements: [(HardwareProfile.Capabilities, String)] { floatConvolutionRequirements(precision) }

    func producedType(input: ActivationSpec.ElementType, output: ActivationSpec.ElementType) -> ActivationSpec.ElementType? { nil }

    func cost(_ query: CostQuery) throws(EngineError) -> PlannedCost {
        let p = ConvolutionParameters.fullyConnected(inputFeatures: weights.shape[1], outputFeatures: weights.shape[0])
        return .convolution(try query.model.convolutionCost(p, precision: precision, batch: query.batch, weightDensity: Density.of(weights.scalars)))
    }

    func execute(_ operands: [EngineValue], _ operation: UnsafePointer<EngineOperation>,
                 _ context: ExecutionContext) throws(EngineError) -> OperatorOutcome {
        let input = try operands[0].floats(of: operation)
        let features = weights.shape[1]
        let parameters = ConvolutionParameters.fullyConnected(inputFeatures: features, outputFeatures: weights.shape[0])
        let kernel = try weights.reshaped([weights.shape[0], features, 1, 1])
        let flat = try input.reshaped([input.shape[0], features, 1, 1])
        let out = try flat.mapSamples(context.output(operation)) { image throws(EngineError) in
            try ConvolutionCore.float(input: image, weights: kernel, parameters: parameters, atomicC: context.profile.atomicC).reshaped([weights.shape[0]])
        }
        return OperatorOutcome(value: .float32(out), inputDensity: Density.of(input.scalars))
    }
}
