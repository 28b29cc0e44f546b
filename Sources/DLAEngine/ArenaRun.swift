/// An operation that runs straight between its arena slots, planned by its operator
/// (`EngineOperator.arenaStep`).
protocol ArenaKernel: AnyObject, Sendable {
    /// Runs the operation on `state`'s slots; returns the strategy a convolution took and the
    /// nonzero fraction of its input (nil for other units), as `EngineOperator.execute` does.
    func run(_ state: ArenaRunState, _ operation: UnsafePointer<EngineOperation>) -> (ConvolutionStrategy?, Double?)
}

/// One run's view of its arena: the plan, the buffer and the batch.
struct ArenaRunState {
    let plan: ActivationArena
    let base: UnsafeMutableRawPointer
    /// The kernels' per-image scratch, after the activations.
    let scratch: UnsafeMutableRawPointer
    let batch: Int
    /// Host threads one operation may split over (a single row's large convolutions).
    let threads: Int
    /// The executor's forced convolution strategy (nil picks per layer).
    let strategy: ConvolutionStrategy?

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
                                  threads: threads, strategy: strategy)
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
        switch state.plan.steps[index] {
        case .kernel(let kernel):
            return kernel.run(state, operation)
        case .alias:
            return (nil, nil)
        case .general:
            let batch = state.batch
            var operands: [EngineValue] = []
            operands.reserveCapacity(operation.pointee.inputs.count)
            for id in operation.pointee.inputs {
                operands.append(try read(id, batch: batch, from: state.base + state.plan.rowOffsets[id] * batch))
            }
            let outcome = try operators[index].execute(operands, operation, context)
            let output = operation.pointee.outputs[0]
            try write(outcome.value, tensor: output, batch: batch, to: state.base + state.plan.rowOffsets[output] * batch)
            return (outcome.strategy, outcome.inputDensity)
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
