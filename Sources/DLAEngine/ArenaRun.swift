import CDLAKernels

extension Executor {
    /// Runs every operation on one batch slice inside an arena buffer (`ActivationArena`): the
    /// same outputs and stats as `runSlice`, its twin, without an array per activation. `inputs`
    /// are checked (`validatedBatch`); an INT8 input given as FP32 is quantized into its slot.
    func runSlice(_ inputs: [EngineValue], arena: ActivationArena) throws(EngineError) -> SliceOutcome {
        let batch = inputs.first?.shape.first ?? 0
        let buffer = arenaBuffers.take(bytes: arena.bytesPerRow * batch)
        defer { arenaBuffers.give(buffer) }
        let base = buffer.base
        for (position, id) in model.inputs.enumerated() {
            try write(inputs[position], tensor: id, to: base + arena.rowOffsets[id] * batch)
        }
        let placeholderCost = PerformanceModel(profile: profile).cpu()
        var stats: [OperationStats] = []
        stats.reserveCapacity(model.operations.count)
        var start = Self.monotonicNanoseconds()
        // Operations, layers and SDP programs are borrowed through buffer pointers: a copy of one
        // would retain its arrays on every run.
        try model.operations.withUnsafeBufferPointer { (operations) throws(EngineError) in
            try arena.layers.withUnsafeBufferPointer { (layers) throws(EngineError) in
                try fusedSDP.withUnsafeBufferPointer { (fusedSDP) throws(EngineError) in
                    for index in operations.indices {
                        let operation = operations.baseAddress.unsafelyUnwrapped + index
                        var strategy: ConvolutionStrategy?
                        var activationDensity: Double?
                        let input = operation.pointee.inputs[0], output = operation.pointee.outputs[0]
                        switch arena.steps[index] {
                        case .fullyConnected(let layer):
                            let fc = layers.baseAddress.unsafelyUnwrapped + layer
                            let count = batch * fc.pointee.weights.reductionLength
                            let activations = (base + arena.rowOffsets[input] * batch).bindMemory(to: Int8.self, capacity: count)
                            let accumulators = (base + arena.rowOffsets[output] * batch).bindMemory(to: Int32.self, capacity: batch * fc.pointee.weights.outputChannels)
                            let nonzero = Int(dla_count_nonzero_s8(Int64(count), activations))
                            let chosen = self.strategy ?? ConvolutionCore.automaticStrategy(weights: fc.pointee.weights, activationCount: count, rows: batch, groups: 1) { nonzero }
                            ConvolutionCore.exactFullyConnected(rows: batch, input: activations, weights: fc.pointee.weights, truncation: fc.pointee.truncation,
                                                                strategy: chosen, into: accumulators)
                            strategy = chosen
                            activationDensity = count == 0 ? 1 : Double(nonzero) / Double(count)
                        case .fusedSDP(let inner):
                            let program = fusedSDP.baseAddress.unsafelyUnwrapped + index
                            guard program.pointee != nil else {
                                throw .invalidParameter(name: "operation '\(operation.pointee.name)'", expected: "a fused SDP program", found: "none")
                            }
                            let count = batch * program.pointee.unsafelyUnwrapped.channels * inner
                            let source = (base + arena.rowOffsets[input] * batch).bindMemory(to: Int32.self, capacity: count)
                            var operand: UnsafeBufferPointer<Int8>?
                            if program.pointee.unsafelyUnwrapped.addsOperand {
                                let id = operation.pointee.inputs[1]
                                operand = UnsafeBufferPointer(start: (base + arena.rowOffsets[id] * batch).bindMemory(to: Int8.self, capacity: count), count: count)
                            }
                            let target = (base + arena.rowOffsets[output] * batch).bindMemory(to: Int8.self, capacity: count)
                            program.pointee.unsafelyUnwrapped.run(UnsafeBufferPointer(start: source, count: count), operand: operand, inner: inner,
                                                                  into: UnsafeMutableBufferPointer(start: target, count: count))
                        case .alias:
                            break
                        case .general:
                            var operands: [EngineValue] = []
                            operands.reserveCapacity(operation.pointee.inputs.count)
                            for id in operation.pointee.inputs {
                                operands.append(try read(id, batch: batch, from: base + arena.rowOffsets[id] * batch))
                            }
                            let result = try execute(operation, operands, fused: fusedSDP[index])
                            try write(result.0, tensor: output, to: base + arena.rowOffsets[output] * batch)
                            strategy = result.1
                            activationDensity = result.2
                        }
                        let end = Self.monotonicNanoseconds()
                        stats.append(OperationStats(name: operation.pointee.name, unit: operation.pointee.unit, type: operation.pointee.type,
                                                    cost: placeholderCost, strategy: strategy,
                                                    inputDensity: activationDensity, hostNanoseconds: end &- start))
                        start = end
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
