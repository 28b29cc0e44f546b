import CDLAKernels

/// `pdp` / `pool`: max, min or average pooling on PDP over INT8 codes (`FloatPoolOperation` on a
/// floating input).
struct PoolOperation: EngineOperator {
    let parameters: PDPParameters

    /// Validates the window against the input `[C, H, W]` and checks the declared output.
    static func build(_ d: OperationDefinition) throws(EngineError) -> any EngineOperator {
        let r = d.attributes
        let input = try d.input(0, "input")
        guard input.sampleShape.count == 3, input.elementType != .int32 else {
            throw .shapeMismatch(what: "operation '\(d.name)' input (int8 or floating [C, H, W])", expected: [-1, -1, -1], found: input.sampleShape)
        }
        let method: PDPParameters.Method
        switch try r.string("method", default: "max") {
        case "max": method = .maximum
        case "min": method = .minimum
        case "avg": method = .average
        case let other: throw .invalidParameter(name: "operation '\(d.name)' method", expected: "max, min or avg", found: other)
        }
        let kernel = try r.ints("kernel", count: 2, default: nil)
        let stride = try r.ints("stride", count: 2, default: kernel)
        let padding = try r.ints("padding", count: 4, default: [0, 0, 0, 0])
        let p = PDPParameters(method: method, kernelHeight: kernel[0], kernelWidth: kernel[1], strideY: stride[0], strideX: stride[1],
                              padTop: padding[0], padBottom: padding[1], padLeft: padding[2], padRight: padding[3],
                              paddingValue: try r.int32("pad_value", default: Int(input.quantization?.zeroPoint ?? 0)))
        let (oh, ow) = try p.outputSize(height: input.sampleShape[1], width: input.sampleShape[2])
        let out = try d.output()
        if input.elementType.isFloatingPoint {
            guard out.elementType.isFloatingPoint, out.sampleShape == [input.sampleShape[0], oh, ow] else {
                throw .shapeMismatch(what: "operation '\(d.name)' output '\(out.name)' (floating)", expected: [input.sampleShape[0], oh, ow], found: out.sampleShape)
            }
            return FloatPoolOperation(parameters: p)
        }
        try d.expectOutput(out, shape: [input.sampleShape[0], oh, ow], type: .int8)
        return PoolOperation(parameters: p)
    }

    var requirements: [(HardwareProfile.Capabilities, String)] { [(.pdp, "pooling (PDP)")] }

    func producedType(input: ActivationSpec.ElementType, output: ActivationSpec.ElementType) -> ActivationSpec.ElementType? { .int8 }

    /// Max and min pooling straight between arena slots: unpadded windows in place, padded ones
    /// through a bordered copy in the scratch. Average pooling takes the general path.
    func arenaStep(_ planning: ArenaPlanning) -> ArenaStepPlan {
        let p = parameters, input = planning.input
        guard p.method != .average, input.elementType == .int8, input.sampleShape.count == 3 else { return .general }
        let (channels, height, width) = (input.sampleShape[0], input.sampleShape[1], input.sampleShape[2])
        guard let (oh, ow) = try? p.outputSize(height: height, width: width), oh >= 1, ow >= 1,
              planning.output.sampleShape.reduce(1, *) == channels * oh * ow
        else { return .general }
        if p.padTop == 0, p.padLeft == 0, (oh - 1) * p.strideY + p.kernelHeight <= height, (ow - 1) * p.strideX + p.kernelWidth <= width {
            return .kernel(PoolKernel(parameters: p, channels: channels, height: height, width: width, outputHeight: oh, outputWidth: ow, padded: false),
                           scratchBytes: 0)
        }
        guard let plane = PDP.paddedPlane(p, height: height, width: width, outputHeight: oh, outputWidth: ow) else { return .general }
        return .kernel(PoolKernel(parameters: p, channels: channels, height: height, width: width, outputHeight: oh, outputWidth: ow, padded: true),
                       scratchBytes: channels * plane.height * plane.width)
    }

    func cost(_ query: CostQuery) throws(EngineError) -> PlannedCost {
        try Self.cost(parameters, query)
    }

    static func cost(_ parameters: PDPParameters, _ query: CostQuery) throws(EngineError) -> PlannedCost {
        let shape = query.input.sampleShape
        return .fixed(try query.model.pdp(parameters, channels: shape[0] * query.batch, height: shape[1], width: shape[2]))
    }

    func execute(_ operands: [EngineValue], _ operation: UnsafePointer<EngineOperation>,
                 _ context: ExecutionContext) throws(EngineError) -> OperatorOutcome {
        let input = try operands[0].int8(of: operation)
        var batchPooled = try PDP.runUnpaddedBatch(input, parameters)
        if batchPooled == nil {
            batchPooled = try PDP.runPaddedBatch(input, parameters)
        }
        if let pooled = batchPooled {
            return OperatorOutcome(value: .int8(pooled))
        }
        return OperatorOutcome(value: .int8(try input.mapSamples(context.output(operation)) { image throws(EngineError) in
            try PDP.run(image, parameters, profile: context.profile)
        }))
    }
}

/// Max or min pooling between arena slots (an object, as `ConvolutionKernel`).
final class PoolKernel: ArenaKernel {
    let parameters: PDPParameters
    let channels: Int, height: Int, width: Int
    let outputHeight: Int, outputWidth: Int
    /// Windows touch padding: each image goes through `PDP.poolPadded` and the scratch.
    let padded: Bool

    init(parameters: PDPParameters, channels: Int, height: Int, width: Int, outputHeight: Int, outputWidth: Int, padded: Bool) {
        self.parameters = parameters
        self.channels = channels
        self.height = height
        self.width = width
        self.outputHeight = outputHeight
        self.outputWidth = outputWidth
        self.padded = padded
    }

    func run(_ state: ArenaRunState, _ operation: UnsafePointer<EngineOperation>) -> (ConvolutionStrategy?, Double?) {
        let p = parameters
        let batch = state.batch
        let planes = batch * channels
        let source = state.slot(operation.pointee.inputs[0], Int8.self, count: planes * height * width)
        let target = state.slot(operation.pointee.outputs[0], Int8.self, count: planes * outputHeight * outputWidth)
        guard padded else {
            dla_pool_s8(Int64(planes), Int64(height), Int64(width), Int64(p.kernelHeight), Int64(p.kernelWidth),
                        Int64(p.strideY), Int64(p.strideX), Int64(outputHeight), Int64(outputWidth), p.method == .minimum ? 1 : 0,
                        source, target)
            return (nil, nil)
        }
        // Image by image through the scratch (sized for one); a single row splits its planes
        // over the threads, each in its own part of the scratch.
        let scratch = state.scratch.bindMemory(to: Int8.self, capacity: state.plan.scratchBytes)
        let inPlane = height * width, outPlane = outputHeight * outputWidth
        let paddedPlane = ((outputHeight - 1) * p.strideY + p.kernelHeight) * ((outputWidth - 1) * p.strideX + p.kernelWidth)
        let parts = max(1, min(state.threads, channels * inPlane / PDP.minimumBytesPerThread))
        let pool = self
        for row in 0..<batch {
            let image = UnsafeSendable(source + row * channels * inPlane), pooled = UnsafeSendable(target + row * channels * outPlane)
            let work = UnsafeSendable(scratch)
            let run: @Sendable (Int) -> Void = { part in
                let first = pool.channels * part / parts, end = pool.channels * (part + 1) / parts
                PDP.poolPadded(image.value + first * inPlane, planes: end - first, height: pool.height, width: pool.width, p,
                               outputHeight: pool.outputHeight, outputWidth: pool.outputWidth, scratch: work.value + first * paddedPlane,
                               into: pooled.value + first * outPlane)
            }
            HostKernels.parallel(parts, run)
        }
        return (nil, nil)
    }
}

/// `pdp` / `pool` on floats: averages in Float64 over the whole kernel (padded taps count 0),
/// each result rounded to the output type.
struct FloatPoolOperation: EngineOperator {
    let parameters: PDPParameters

    var requirements: [(HardwareProfile.Capabilities, String)] { [(.pdp, "pooling (PDP)")] }

    func producedType(input: ActivationSpec.ElementType, output: ActivationSpec.ElementType) -> ActivationSpec.ElementType? { nil }

    func cost(_ query: CostQuery) throws(EngineError) -> PlannedCost {
        try PoolOperation.cost(parameters, query)
    }

    func execute(_ operands: [EngineValue], _ operation: UnsafePointer<EngineOperation>,
                 _ context: ExecutionContext) throws(EngineError) -> OperatorOutcome {
        let input = try operands[0].floats(of: operation)
        let outputSpec = context.output(operation)
        let out = try input.mapSamples(outputSpec) { image throws(EngineError) in
            let pooled = try PDP.runFloat(image, parameters, profile: context.profile)
            return try Tensor(shape: pooled.shape, scalars: pooled.scalars.map(outputSpec.elementType.round))
        }
        return OperatorOutcome(value: .float32(out))
    }
}
