import CDLAKernels

/// One run's view of its arena: the plan, the buffer and the batch.
private struct ArenaRunState {
    let plan: ActivationArena
    let base: UnsafeMutableRawPointer
    /// The convolutions' per-image scratch, after the activations.
    let scratch: UnsafeMutableRawPointer
    let batch: Int
    /// Host threads one operation may split over (a single row's large convolutions).
    let threads: Int

    /// Where tensor `id` lives, as `count` elements of `type`.
    func slot<T>(_ id: Int, _ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        (base + plan.rowOffsets[id] * batch).bindMemory(to: T.self, capacity: count)
    }
}

extension Executor {
    /// Runs every operation on one batch slice inside an arena buffer (`ActivationArena`): the
    /// same outputs and stats as `runSlice`, its twin, without an array per activation. `inputs`
    /// are checked (`validatedBatch`); an INT8 input given as FP32 is quantized into its slot.
    /// `threads` > 1 splits large convolutions over host threads.
    func runSlice(_ inputs: [EngineValue], arena: ActivationArena, threads: Int = 1) throws(EngineError) -> SliceOutcome {
        let batch = inputs.first?.shape.first ?? 0
        let (activationBytes, overflow) = arena.bytesPerRow.multipliedReportingOverflow(by: batch)
        guard !overflow, activationBytes <= Int.max - arena.scratchBytes else {
            throw .invalidParameter(name: "batch", expected: "an activation arena whose size fits Int", found: "\(batch) rows of \(arena.bytesPerRow) bytes")
        }
        let buffer = arenaBuffers.take(bytes: activationBytes + arena.scratchBytes)
        defer { arenaBuffers.give(buffer) }
        let state = ArenaRunState(plan: arena, base: buffer.base, scratch: buffer.base + arena.bytesPerRow * batch, batch: batch,
                                      threads: threads)
        for (position, id) in model.inputs.enumerated() {
            try write(inputs[position], tensor: id, batch: batch, to: buffer.base + arena.rowOffsets[id] * batch)
        }
        var stats: [OperationStats] = []
        stats.reserveCapacity(model.operations.count)
        // One clock read per operation: each one's end is the next one's start. Operations are
        // borrowed through a buffer pointer (a copy would retain its weights' arrays).
        var start = Self.monotonicNanoseconds()
        try model.operations.withUnsafeBufferPointer { (operations) throws(EngineError) in
            for index in operations.indices {
                let operation = operations.baseAddress.unsafelyUnwrapped + index
                let (strategy, activationDensity) = try step(index, operation, state)
                let end = Self.monotonicNanoseconds()
                stats.append(OperationStats(name: operation.pointee.name, unit: operation.pointee.unit, type: operation.pointee.type,
                                            cost: unmeasuredCost, strategy: strategy,
                                            inputDensity: activationDensity, hostNanoseconds: end &- start))
                start = end
            }
        }
        var outputs: [EngineValue] = []
        outputs.reserveCapacity(model.outputs.count)
        for id in model.outputs {
            outputs.append(try read(id, batch: batch, from: buffer.base + arena.rowOffsets[id] * batch))
        }
        return SliceOutcome(outputs: outputs, operations: stats)
    }

    /// Runs operation `index` between its arena slots; returns the strategy a convolution took
    /// and the nonzero fraction of its input (nil for other units), as `execute` does.
    private func step(_ index: Int, _ operation: UnsafePointer<EngineOperation>, _ state: ArenaRunState) throws(EngineError) -> (ConvolutionStrategy?, Double?) {
        let input = operation.pointee.inputs[0], output = operation.pointee.outputs[0]
        let batch = state.batch
        switch state.plan.steps[index] {
        case .fullyConnected(let fc):
            let count = batch * fc.weights.reductionLength
            let activations = state.slot(input, Int8.self, count: count)
            let nonzero = Int(dla_count_nonzero_s8(Int64(count), activations))
            let chosen = strategy ?? ConvolutionCore.automaticStrategy(weights: fc.weights, activationCount: count, rows: batch, groups: 1) { nonzero }
            ConvolutionCore.exactFullyConnected(rows: batch, input: activations, weights: fc.weights, truncation: fc.truncation,
                                                strategy: chosen, into: state.slot(output, Int32.self, count: batch * fc.weights.outputChannels))
            return (chosen, count == 0 ? 1 : Double(nonzero) / Double(count))
        case .convolution(let conv):
            let p = conv.parameters, g = conv.geometry
            let pixels = g.outputHeight * g.outputWidth
            let sample = p.inputChannels * p.inputHeight * p.inputWidth, outputSample = p.outputChannels * pixels
            let images = state.slot(input, Int8.self, count: batch * sample)
            let accumulators = state.slot(output, Int32.self, count: batch * outputSample)
            var chosen = ConvolutionStrategy.dense
            for row in 0..<batch {
                let image = images + row * sample
                chosen = strategy ?? ConvolutionCore.automaticStrategy(weights: conv.weights, activationCount: sample, rows: pixels, groups: p.groups) {
                    Int(dla_count_nonzero_s8(Int64(sample), image))
                }
                ConvolutionCore.exactImage(image, weights: conv.weights, parameters: p, geometry: g, paddingValue: conv.paddingValue,
                                           truncation: conv.truncation, strategy: chosen, threads: state.threads, scratch: state.scratch,
                                           into: accumulators + row * outputSample)
            }
            let count = batch * sample
            return (chosen, count == 0 ? 1 : Double(dla_count_nonzero_s8(Int64(count), images)) / Double(count))
        case .fusedSDP(let sdp):
            let count = batch * sdp.program.channels * sdp.inner
            var operand: UnsafeBufferPointer<Int8>?
            if sdp.program.addsOperand {
                operand = UnsafeBufferPointer(start: state.slot(operation.pointee.inputs[1], Int8.self, count: count), count: count)
            }
            let parts = batch == 1 ? min(state.threads, sdp.program.channels, count / FusedSDP.minimumElementsPerThread) : 1
            if parts > 1 {
                // A single row splits its channels over the threads.
                let program = sdp.program, inner = sdp.inner, channels = sdp.program.channels
                let source = sdp.readsCodes ? UnsafeSendable(FusedSDP.RowInput.codes(UnsafePointer(state.slot(input, Int8.self, count: count))))
                    : UnsafeSendable(FusedSDP.RowInput.accumulators(UnsafePointer(state.slot(input, Int32.self, count: count))))
                let target = UnsafeSendable(state.slot(output, Int8.self, count: count)), addend = UnsafeSendable(operand?.baseAddress)
                HostKernels.parallel(parts) { part in
                    program.run(channels: (channels * part / parts)..<(channels * (part + 1) / parts), source.value, operand: addend.value,
                                inner: inner, into: target.value)
                }
                return (nil, nil)
            }
            let target = UnsafeMutableBufferPointer(start: state.slot(output, Int8.self, count: count), count: count)
            if sdp.readsCodes {
                sdp.program.run(UnsafeBufferPointer(start: state.slot(input, Int8.self, count: count), count: count), operand: operand,
                                inner: sdp.inner, into: target)
            } else {
                sdp.program.run(UnsafeBufferPointer(start: state.slot(input, Int32.self, count: count), count: count), operand: operand,
                                inner: sdp.inner, into: target)
            }
            return (nil, nil)
        case .pool(let pool):
            let p = pool.parameters
            let planes = batch * pool.channels
            let source = state.slot(input, Int8.self, count: planes * pool.height * pool.width)
            let target = state.slot(output, Int8.self, count: planes * pool.outputHeight * pool.outputWidth)
            guard pool.padded else {
                dla_pool_s8(Int64(planes), Int64(pool.height), Int64(pool.width), Int64(p.kernelHeight), Int64(p.kernelWidth),
                            Int64(p.strideY), Int64(p.strideX), Int64(pool.outputHeight), Int64(pool.outputWidth), p.method == .minimum ? 1 : 0,
                            source, target)
                return (nil, nil)
            }
            // Image by image through the scratch (sized for one); a single row splits its planes
            // over the threads, each in its own part of the scratch.
            let scratch = state.scratch.bindMemory(to: Int8.self, capacity: state.plan.scratchBytes)
            let inPlane = pool.height * pool.width, outPlane = pool.outputHeight * pool.outputWidth
            let paddedPlane = ((pool.outputHeight - 1) * p.strideY + p.kernelHeight) * ((pool.outputWidth - 1) * p.strideX + p.kernelWidth)
            let parts = max(1, min(state.threads, pool.channels * inPlane / PDP.minimumBytesPerThread))
            for row in 0..<batch {
                let image = UnsafeSendable(source + row * pool.channels * inPlane), pooled = UnsafeSendable(target + row * pool.channels * outPlane)
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
        case .alias:
            return (nil, nil)
        case .general:
            var operands: [EngineValue] = []
            operands.reserveCapacity(operation.pointee.inputs.count)
            for id in operation.pointee.inputs {
                operands.append(try read(id, batch: batch, from: state.base + state.plan.rowOffsets[id] * batch))
            }
            let (value, strategy, activationDensity) = try execute(operation, operands, fused: fusedSDP[index])
            try write(value, tensor: output, batch: batch, to: state.base + state.plan.rowOffsets[output] * batch)
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

    /// Writes `value` into the slot of tensor `id`, `batch` rows of its declared shape (the plan
    /// made their element types agree); an FP32 value for an INT8 tensor goes through the input
    /// converter. A value of another element count is refused: the slot holds exactly that many.
    private func write(_ value: EngineValue, tensor id: Int, batch: Int, to target: UnsafeMutableRawPointer) throws(EngineError) {
        let capacity = batch * model.tensors[id].sampleShape.reduce(1, *)
        guard value.count == capacity else {
            throw .elementCountMismatch(what: "tensor '\(model.tensors[id].name)' written to its arena slot", expected: capacity, found: value.count)
        }
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
