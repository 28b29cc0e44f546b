import CDLAKernels

/// `convolution` / `conv`: a direct convolution on the convolution core, INT8 into CACC's INT32
/// accumulators (`FloatConvolutionOperation` on an FP16/FP8 input).
struct ConvolutionOperation: EngineOperator {
    let parameters: ConvolutionParameters
    let weights: Int8ConvolutionWeights
    let paddingValue: Int8
    let truncation: Int

    /// Validates the attributes against the input `[C, H, W]` and checks the declared output.
    static func build(_ d: OperationDefinition) throws(EngineError) -> any EngineOperator {
        let r = d.attributes
        let input = try d.input(0, "input")
        guard input.sampleShape.count == 3, input.elementType != .int32, input.elementType != .float32 else {
            throw .shapeMismatch(what: "operation '\(d.name)' input (int8, fp16 or fp8 [C, H, W])", expected: [-1, -1, -1], found: input.sampleShape)
        }
        let weightShape = try r.weightShape("weight")
        guard weightShape.count == 4 else {
            throw .shapeMismatch(what: "operation '\(d.name)' weight [K, C/groups, R, S]", expected: [-1, -1, -1, -1], found: weightShape)
        }
        let stride = try r.ints("stride", count: 2, default: [1, 1])
        let padding = try r.ints("padding", count: 4, default: [0, 0, 0, 0])
        let dilation = try r.ints("dilation", count: 2, default: [1, 1])
        let groups = try r.int("groups", default: 1)
        let parameters = ConvolutionParameters(
            inputChannels: input.sampleShape[0], inputHeight: input.sampleShape[1], inputWidth: input.sampleShape[2],
            outputChannels: weightShape[0], kernelHeight: weightShape[2], kernelWidth: weightShape[3],
            strideY: stride[0], strideX: stride[1], padTop: padding[0], padBottom: padding[1], padLeft: padding[2], padRight: padding[3],
            dilationY: dilation[0], dilationX: dilation[1], groups: groups)
        let geometry = try parameters.validated()
        guard weightShape[1] == geometry.channelsPerGroup else {
            throw .shapeMismatch(what: "operation '\(d.name)' weight", expected: [weightShape[0], geometry.channelsPerGroup, weightShape[2], weightShape[3]], found: weightShape)
        }
        if input.elementType.isFloatingPoint {
            let decoded = try r.floatWeight("weight")
            try d.expectOutput(try d.output(), shape: [parameters.outputChannels, geometry.outputHeight, geometry.outputWidth], type: .float32)
            return FloatConvolutionOperation(parameters: parameters, weights: try Tensor(shape: decoded.shape, scalars: decoded.values),
                                             precision: decoded.precision)
        }
        let pad = try r.int("pad_value", default: Int(input.quantization?.zeroPoint ?? 0))
        try EngineError.require("operation '\(d.name)' pad_value", pad, in: -128...127)
        let weights = try Int8ConvolutionWeights(convolution: parameters, values: try r.int8Weight("weight").values)
        try d.expectOutput(try d.output(), shape: [parameters.outputChannels, geometry.outputHeight, geometry.outputWidth], type: .int32)
        return ConvolutionOperation(parameters: parameters, weights: weights, paddingValue: Int8(pad), truncation: try r.int("truncate", default: 0))
    }

    var requirements: [(HardwareProfile.Capabilities, String)] { [(.int8, "INT8 convolution")] }

    func producedType(input: ActivationSpec.ElementType, output: ActivationSpec.ElementType) -> ActivationSpec.ElementType? { .int32 }

    /// Image by image through the fast kernels, its im2col patches and GEMM block in the arena's
    /// scratch; the reference strategy and shapes the file got wrong take the general path.
    func arenaStep(_ planning: ArenaPlanning) -> ArenaStepPlan {
        let input = planning.input
        guard planning.strategy != .reference, input.elementType == .int8,
              input.sampleShape == [parameters.inputChannels, parameters.inputHeight, parameters.inputWidth],
              (0...ConvolutionCore.maximumTruncation).contains(truncation),
              let geometry = try? parameters.validated(), geometry.reductionLength <= Int(DLA_MAX_EXACT_K),
              weights.outputChannels == parameters.outputChannels, weights.reductionLength == geometry.reductionLength,
              planning.output.sampleShape.reduce(1, *) == parameters.outputChannels * geometry.outputHeight * geometry.outputWidth
        else { return .general }
        return .kernel(ConvolutionKernel(parameters: parameters, geometry: geometry, weights: weights, paddingValue: paddingValue, truncation: truncation),
                       scratchBytes: ConvolutionCore.scratchBytes(parameters: parameters, geometry: geometry, weights: weights, strategy: planning.strategy))
    }

    func cost(_ query: CostQuery) throws(EngineError) -> PlannedCost {
        .convolution(try query.model.convolutionCost(parameters, precision: .int8, batch: query.batch, weightDensity: weights.density))
    }

    func execute(_ operands: [EngineValue], _ operation: UnsafePointer<EngineOperation>,
                 _ context: ExecutionContext) throws(EngineError) -> OperatorOutcome {
        let outputSpec = context.output(operation)
        let input = try operands[0].int8(of: operation)
        let batch = input.shape[0]
        let sample = input.count / max(batch, 1)
        let imageShape = [parameters.inputChannels, parameters.inputHeight, parameters.inputWidth]
        if batch == 1 {
            // One image: its planes are the input's, the result is the output; no copies.
            let result = try ConvolutionCore.int8(input: try input.reshaped(imageShape), weights: weights, parameters: parameters,
                                                  paddingValue: paddingValue, truncation: truncation, strategy: context.strategy)
            return OperatorOutcome(value: .int32(try result.accumulators.reshaped([1] + outputSpec.sampleShape)), strategy: result.strategy,
                                   inputDensity: Density.of(input.scalars))
        }
        var scalars: [Int32] = []
        scalars.reserveCapacity(batch * outputSpec.sampleShape.reduce(1, *))
        var used: ConvolutionStrategy = .dense
        for row in 0..<batch {
            let image = try Tensor(shape: imageShape, scalars: Array(input.scalars[(row * sample)..<((row + 1) * sample)]))
            let result = try ConvolutionCore.int8(input: image, weights: weights, parameters: parameters,
                                                  paddingValue: paddingValue, truncation: truncation, strategy: context.strategy)
            used = result.strategy
            scalars.append(contentsOf: result.accumulators.scalars)
        }
        let out = try Tensor(shape: [batch] + outputSpec.sampleShape, scalars: scalars)
        return OperatorOutcome(value: .int32(out), strategy: used, inputDensity: Density.of(input.scalars))
    }
}

/// An INT8 convolution between arena slots. An object: taking it out of a step retains it once,
/// where a struct's copy would retain each of its arrays on every run.
final class ConvolutionKernel: ArenaKernel {
    let parameters: ConvolutionParameters
    let geometry: ConvolutionParameters.Geometry
    let weights: Int8ConvolutionWeights
    let paddingValue: Int8
    let truncation: Int

    init(parameters: ConvolutionParameters, geometry: ConvolutionParameters.Geometry, weights: Int8ConvolutionWeights,
         paddingValue: Int8, truncation: Int) {
        self.parameters = parameters
        self.geometry = geometry
        self.weights = weights
        self.paddingValue = paddingValue
        self.truncation = truncation
    }

    func run(_ state: ArenaRunState, _ operation: UnsafePointer<EngineOperation>) -> (ConvolutionStrategy?, Double?) {
        let input = operation.pointee.inputs[0], output = operation.pointee.outputs[0]
        let batch = state.batch
        let p = parameters, g = geometry
        let pixels = g.outputHeight * g.outputWidth
        let sample = p.inputChannels * p.inputHeight * p.inputWidth, outputSample = p.outputChannels * pixels
        let images = state.slot(input, Int8.self, count: batch * sample)
        let accumulators = state.slot(output, Int32.self, count: batch * outputSample)
        var chosen = ConvolutionStrategy.dense
        for row in 0..<batch {
            let image = images + row * sample
            chosen = state.strategy ?? ConvolutionCore.automaticStrategy(weights: weights, activationCount: sample, rows: pixels, groups: p.groups) {
                Int(dla_count_nonzero_s8(Int64(sample), image))
            }
            ConvolutionCore.exactImage(image, weights: weights, parameters: p, geometry: g, paddingValue: paddingValue,
                                       truncation: truncation, strategy: chosen, threads: state.threads, scratch: state.scratch,
                                       into: accumulators + row * outputSample)
        }
        let count = batch * sample
        return (chosen, count == 0 ? 1 : Double(dla_count_nonzero_s8(Int64(count), images)) / Double(count))
    }
}

/// `convolution` / `conv` on an FP16/FP8 input: products exact in FP32, summed in CACC's order.
/// `precision` is the weights' type.
struct FloatConvolutionOperation: EngineOperator {
    let parameters: ConvolutionParameters
    let weights: Tensor<Float>
    let precision: Precision

    var requirements: [(HardwareProfile.Capabilities, String)] { floatConvolutionRequirements(precision) }

    func producedType(input: ActivationSpec.ElementType, output: ActivationSpec.ElementType) -> ActivationSpec.ElementType? { nil }

    func cost(_ query: CostQuery) throws(EngineError) -> PlannedCost {
        .convolution(try query.model.convolutionCost(parameters, precision: precision, batch: query.batch, weightDensity: Density.of(weights.scalars)))
    }

    func execute(_ operands: [EngineValue], _ operation: UnsafePointer<EngineOperation>,
                 _ context: ExecutionContext) throws(EngineError) -> OperatorOutcome {
        let input = try operands[0].floats(of: operation)
        let out = try input.mapSamples(context.output(operation)) { image throws(EngineError) in
            try ConvolutionCore.float(input: image, weights: weights, parameters: parameters, atomicC: context.profile.atomicC)
        }
        return OperatorOutcome(value: .float32(out), inputDensity: Density.of(input.scalars))
    }
}

/// FP16 needs a profile with FP16 MACs, FP8 one with our FP8 extension.
func floatConvolutionRequirements(_ precision: Precision) -> [(HardwareProfile.Capabilities, String)] {
    precision == .fp16 ? [(.fp16, "FP16 convolution")] : [(.fp8, "FP8 convolution (our extension)")]
}
