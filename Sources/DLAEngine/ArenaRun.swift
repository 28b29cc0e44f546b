import CDLAKernels

/// One run's view of its arena: the buffer, the batch, and the plan's tables borrowed through
/// buffer pointers (a copy of an operation, a layer or an SDP program would retain its arrays on
/// every run).
private struct ArenaRunState {
    let plan: ActivationArena
    let base: UnsafeMutableRawPointer
    /// The convolutions' per-image scratch, after the activations.
    let scratch: UnsafeMutableRawPointer
    let batch: Int
    let operations: UnsafeBufferPointer<EngineOperation>
    let layers: UnsafeBufferPointer<(weights: Int8ConvolutionWeights, truncation: Int)>
    let convolutions: UnsafeBufferPointer<ActivationArena.Convolution>
    let fusedSDP: UnsafeBufferPointer<FusedSDP?>

    /// Where tensor `id` lives, as `count` elements of `type`.
    func slot<T>(_ id: Int, _ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        (base + plan.rowOffsets[id] * batch).bindMemory(to: T.self, capacity: count)
    }
}

extension Executor {
    /// Runs every operation on one batch slice inside an arena buffer (`ActivationArena`): the
    /// same outputs and stats as `runSlice`, its twin, without an array per activation. `inputs`
    /// are checked (`validatedBatch`); an INT8 input given as FP32 is quantized into its slot.
    func runSlice(_ inputs: [EngineValue], arena: ActivationArena) throws(EngineError) -> SliceOutcome {
        let batch = inputs.first?.shape.first ?? 0
        let buffer = arenaBuffers.take(bytes: arena.bytesPerRow * batch + arena.scratchBytes)
        defer { arenaBuffers.give(buffer) }
        let base = buffer.base
        for (position, id) in model.inputs.enumerated() {
            try write(inputs[position], tensor: id, to: base + arena.rowOffsets[id] * batch)
        }
        let placeholderCost = PerformanceModel(profile: profile).cpu()
        var stats: [OperationStats] = []
        stats.reserveCapacity(model.operations.count)
        // One clock read per operation: each one's end is the next one's start.
        var start = Self.monotonicNanoseconds()
        try model.operations.withUnsafeBufferPointer { (operations) throws(EngineError) in
            try arena.layers.withUnsafeBufferPointer { (layers) throws(EngineError) in
                try arena.convolutions.withUnsafeBufferPointer { (convolutions) throws(EngineError) in
                    try fusedSDP.withUnsafeBufferPointer { (fusedSDP) throws(EngineError) in
                        let state = ArenaRunState(plan: arena, base: base, scratch: base + arena.bytesPerRow * batch, batch: batch,
                                                  operations: operations, layers: layers, convolutions: convolutions, fusedSDP: fusedSDP)
                        for index in operations.indices {
                            let operation = operations.baseAddress.unsafelyUnwrapped + index
                            let (strategy, activationDensity) = try step(index, state)
                            let end = Self.monotonicNanoseconds()
                            stats.append(OperationStats(name: operation.pointee.name, unit: operation.pointee.unit, type: operation.pointee.type,
                                                        cost: placeholderCost, strategy: strategy,
                                                        inputDensity: activationDensity, hostNanoseconds: end &- start))
                            start = end
                        }
                    }
                }
            }
        }
        var outputs: [EngineValue] = []
        outputs.reserveCapacity(model.outputs.count)
        for id in model.outputs {
            outputs.append(try read(id, batch: batch, from: base + arena.rowOffsets[id] * batch))
        }
        return SliceOutcome(outputs: outputs, operations: stats)
    }

    /// Runs operation `index` between its arena slots; returns the strategy a convolution took
    /// and the nonzero fraction of its input (nil for other units), as `execute` does.
    private func step(_ index: Int, _ state: ArenaRunState) throws(EngineError) -> (ConvolutionStrategy?, Double?) {
        let operation = state.operations.baseAddress.unsafelyUnwrapped + index
        let input = operation.pointee.inputs[0], output = operation.pointee.outputs[0]
        let batch = state.batch
        switch state.plan.steps[index] {
        case .fullyConnected(let layer):
            let fc = state.layers.baseAddress.unsafelyUnwrapped + layer
            let count = batch * fc.pointee.weights.reductionLength
            let activations = state.slot(input, Int8.self, count: count)
            let nonzero = Int(dla_count_nonzero_s8(Int64(count), activations))
            let chosen = strategy ?? ConvolutionCore.automaticStrategy(weights: fc.pointee.weights, activationCount: count, rows: batch, groups: 1) {
                nonzero
            }
            ConvolutionCore.exactFullyConnected(rows: batch, input: activations, weights: fc.pointee.weights, truncation: fc.pointee.truncation,
                                                strategy: chosen, into: state.slot(output, Int32.self, count: batch * fc.pointee.weights.outputChannels))
            return (chosen, count == 0 ? 1 : Double(nonzero) / Double(count))
        case .convolution(let layer):
            let conv = state.convolutions.baseAddress.unsafelyUnwrapped + layer
            let p = conv.pointee.parameters, g = conv.pointee.geometry
            let pixels = g.outputHeight * g.outputWidth
            let sample = p.inputChannels * p.inputHeight * p.inputWidth, outputSample = p.outputChannels * pixels
            let images = state.slot(input, Int8.self, count: batch * sample)
            let accumulators = state.slot(output, Int32.self, count: batch * outputSample)
            var chosen = ConvolutionStrategy.dense
            for row in 0..<batch {
                let image = images + row * sample
                chosen = strategy ?? ConvolutionCore.automaticStrategy(weights: conv.pointee.weights, activationCount: sample, rows: pixels, groups: p.groups) {
                    Int(dla_count_nonzero_s8(Int64(sample), image))
                }
                ConvolutionCore.exactImage(image, weights: conv.pointee.weights, parameters: p, geometry: g, paddingValue: conv.pointee.paddingValue,
                                           truncation: conv.pointee.truncation, strategy: chosen, scratch: state.scratch,
                                           into: accumulators + row * outputSample)
            }
            let count = batch * sample
            return (chosen, count == 0 ? 1 : Double(dla_count_nonzero_s8(Int64(count), images)) / Double(count))
        case .fusedSDP(let inner):
            let program = state.fusedSDP.baseAddress.unsafelyUnwrapped + index
            guard program.pointee != nil else {
                throw .invalidParameter(name: "operation '\(operation.pointee.name)'", expected: "a fused SDP program", found: "none")
            }
            let count = batch * program.pointee.unsafelyUnwrapped.channels * inner
            var operand: UnsafeBufferPointer<Int8>?
            if program.pointee.unsafelyUnwrapped.addsOperand {
                operand = UnsafeBufferPointer(start: state.slot(operation.pointee.inputs[1], Int8.self, count: count), count: count)
            }
            program.pointee.unsafelyUnwrapped.run(UnsafeBufferPointer(start: state.slot(input, Int32.self, count: count), count: count),
                                                  operand: operand, inner: inner,
                                                  into: UnsafeMutableBufferPointer(start: state.slot(output, Int8.self, count: count), count: count))
            return (nil, nil)
        case .alias:
            return (nil, nil)
        case .general:
            var operands: [EngineValue] = []
            operands.reserveCapacity(operation.pointee.inputs.count)
            for id in operation.pointee.inputs {
                operands.append(try read(id, batch: batch, from: state.base + state.plan.rowOffsets[id] * batch))
            }
            let (value, strategy, activationDensity) = try execute(operation, operands, fused: state.fusedSDP[index])
            try write(value, tensor: output, to: state.base + state.plan.rowOffsets[output] * batch)
            return (strategy, activationDensity)
        }
    }

    /// Tensor `id` of a batch of `batch` rows, copied out of its slot at `source`.
    private func read(_ id: Int, batch: Int, from source: UnsafeMutableRawPointer) throws(EngineError) -> EngineValue {
        let spec = model.tensors[id]
        let count = batch * spec.sampleShape.reduce(1, *)
        let shape = [batch] + spec.sampleShape
        switch spec.elementType {
        case .int8:
            return .int8(try Tensor(shape: shape, scalars: Array(UnsafeBufferPointer(start: source.bindMemory(to: Int8.self, capacity: count), count: count))))
        case .int32:
            return .int32(try Tensor(shape: shape, scalars: Array(UnsafeBufferPointer(start: source.bindMemory(to: Int32.self, capacity: count), count: count))))
        case .float32:
            return .float32(try Tensor(shape: shape, scalars: Array(UnsafeBufferPointer(start: source.bindMemory(to: Float.self, capacity: count), count: count))))
        case .float16, .fp8e4m3, .fp8e5m2:
            throw .invalidParameter(name: "arena tensor '\(spec.name)' type", expected: "int8, int32 or float32", found: spec.elementType.rawValue)
        }
    }

    /// Writes `value` into the slot of tensor `id` (the plan made their element types agree); an
    /// FP32 value for an INT8 tensor goes through the input converter.
    private func write(_ value: EngineValue, tensor id: Int, to target: UnsafeMutableRawPointer) throws(EngineError) {
        switch (model.tensors[id].elementType, value) {
        case (.int8, .int8(let tensor)):
            tensor.scalars.withUnsafeBytes { Self.copy($0, to: target) }
        case (.int32, .int32(let tensor)):
            tensor.scalars.withUnsafeBytes { Self.copy($0, to: target) }
        case (.float32, .float32(let tensor)):
            tensor.scalars.withUnsafeBytes { Self.copy($0, to: target) }
        case (.int8, .float32(let real)):
            let q = model.tensors[id].quantization ?? ActivationQuantization(scale: 1, zeroPoint: 0)
            real.scalars.withUnsafeBufferPointer { source in
                CPUFallback.quantize(source, scale: q.scale, zeroPoint: q.zeroPoint,
                                     into: target.bindMemory(to: Int8.self, capacity: source.count))
            }
        default:
            throw .invalidParameter(name: "tensor '\(model.tensors[id].name)' type", expected: model.tensors[id].elementType.rawValue, found: value.typeName)
        }
    }

    private static func copy(_ bytes: UnsafeRawBufferPointer, to target: UnsafeMutableRawPointer) {
        if let source = bytes.baseAddress, bytes.count > 0 {
            target.copyMemory(from: source, byteCount: bytes.count)
        }
    }
}
