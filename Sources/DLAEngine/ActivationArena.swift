import Synchronization

/// Where every activation of a compiled graph lives in one buffer, planned once per executor.
///
/// A run that allocates each activation (and its shape) as an array spends more time in `malloc`
/// and reference counting than in the kernels on a small network: LeNet-300-100 computes in about
/// 2 µs at batch 1. The arena gives each tensor a fixed offset instead, as TFLite's arena planner
/// does: tensors live from the operation that writes them to their last reader, and tensors whose
/// lifetimes do not overlap share bytes, so the arena is as large as the graph's peak live set,
/// the bound the executor already keeps. Every size is a multiple of the batch, so offsets are
/// planned per batch row and scaled by the batch at run time.
///
/// Only graphs whose tensors are INT8, INT32 or FP32 and whose operations produce exactly the
/// declared element type are planned; anything else runs on the executor's general path (which is
/// also the arena's twin in tests).
final class ActivationArena: Sendable {
    /// How one operation runs on the arena, as its operator planned it (`EngineOperator.arenaStep`).
    enum Step: Sendable {
        /// Straight between arena slots. Kernels are objects: taking one out of a step retains it
        /// once, where a struct's copy would retain each of its arrays on every run.
        case kernel(any ArenaKernel)
        /// A reshape: its output shares its input's bytes.
        case alias
        /// Any other operation: its inputs are copied into tensors, its operator's `execute` runs
        /// it and its output is copied into the arena.
        case general
    }

    /// Per tensor: its byte offset per batch row (× batch gives the offset), a multiple of 64.
    let rowOffsets: [Int]
    /// Per operation.
    let steps: [Step]
    /// Bytes after the activations for the kernels' per-image scratch (not scaled by the batch).
    let scratchBytes: Int
    /// The arena's bytes per batch row.
    let bytesPerRow: Int

    /// Bytes of one element of a tensor type the arena holds (nil: not planned).
    static func elementBytes(_ type: ActivationSpec.ElementType) -> Int? {
        switch type {
        case .int8: 1
        case .int32, .float32: 4
        case .float16, .fp8e4m3, .fp8e5m2: nil
        }
    }

    /// The plan for `model`, or nil when some tensor or operation is outside what the arena runs.
    /// `operators` are the executor's, one per operation (`EngineOperator.planned`), `strategy` its
    /// forced convolution strategy.
    init?(model: CompiledModel, operators: [any EngineOperator], strategy: ConvolutionStrategy?) {
        let tensors = model.tensors
        let operations = model.operations
        guard (model.inputs + model.outputs).allSatisfy({ tensors.indices.contains($0) && Self.elementBytes(tensors[$0].elementType) != nil })
        else { return nil }
        var defined = [Bool](repeating: false, count: tensors.count)
        for id in model.inputs { defined[id] = true }
        var steps: [Step] = []
        var scratchBytes = 0
        // Reshapes share their input's bytes: `root` is the tensor that owns them.
        var root = Array(tensors.indices)
        for (index, operation) in operations.enumerated() {
            guard let output = operation.outputs.first, tensors.indices.contains(output), !operation.inputs.isEmpty,
                  operation.inputs.allSatisfy({ tensors.indices.contains($0) && defined[$0] }),
                  let produced = operators[index].producedType(input: tensors[operation.inputs[0]].elementType, output: tensors[output].elementType),
                  produced == tensors[output].elementType, Self.elementBytes(produced) != nil,
                  operation.inputs.allSatisfy({ Self.elementBytes(tensors[$0].elementType) != nil })
            else { return nil }
            switch operators[index].arenaStep(ArenaPlanning(tensors: tensors, operation: operation, strategy: strategy)) {
            case .kernel(let kernel, let scratch):
                steps.append(.kernel(kernel))
                scratchBytes = max(scratchBytes, scratch)
            case .alias:
                steps.append(.alias)
                root[output] = root[operation.inputs[0]]
            case .general:
                steps.append(.general)
            }
            defined[output] = true
        }
        guard model.outputs.allSatisfy({ defined[$0] }) else { return nil }

        // Lifetimes of the tensors that own bytes: written at `birth` (−1: model inputs), last
        // read at `death` (the operation count: graph outputs, kept to the end).
        var birth = [Int?](repeating: nil, count: tensors.count)
        var death = [Int](repeating: -1, count: tensors.count)
        for id in model.inputs { birth[root[id]] = -1 }
        for (index, operation) in operations.enumerated() {
            let owner = root[operation.outputs[0]]
            if birth[owner] == nil { birth[owner] = index }
            death[owner] = max(death[owner], index)
            for id in operation.inputs { death[root[id]] = max(death[root[id]], index) }
        }
        for id in model.outputs { death[root[id]] = operations.count }
        func rowBytes(_ id: Int) -> Int {
            let bytes = tensors[id].sampleShape.reduce(1, *) * (Self.elementBytes(tensors[id].elementType) ?? 0)
            return (bytes + 63) / 64 * 64
        }
        // First fit in order of birth, a tensor's bytes taken before its inputs' are given back
        // (no kernel writes over its own input).
        var offsets = [Int](repeating: 0, count: tensors.count)
        var live: [(offset: Int, bytes: Int, owner: Int)] = []
        var size = 0
        func place(_ owner: Int) {
            let bytes = rowBytes(owner)
            var offset = 0
            for block in live.sorted(by: { $0.offset < $1.offset }) {
                if offset + bytes <= block.offset { break }
                offset = max(offset, block.offset + block.bytes)
            }
            offsets[owner] = offset
            live.append((offset, bytes, owner))
            size = max(size, offset + bytes)
        }
        for id in tensors.indices where birth[id] == -1 && root[id] == id { place(id) }
        for index in operations.indices {
            let owner = root[operations[index].outputs[0]]
            if birth[owner] == index { place(owner) }
            live.removeAll { death[$0.owner] <= index }
        }
        self.rowOffsets = tensors.indices.map { offsets[root[$0]] }
        self.steps = steps
        self.scratchBytes = scratchBytes
        self.bytesPerRow = size
    }
}

/// The arena buffers of one executor (shared by its copies), reused across runs: a run takes one,
/// concurrent runs get their own, and a few are kept afterwards.
final class ArenaBuffers: Sendable {
    /// Buffers larger than this are freed after their run rather than kept (a server that once ran
    /// a huge batch should not hold its memory).
    private static let largestKept = 64 << 20
    private static let kept = 4
    private let free = Mutex<[ArenaBuffer]>([])

    /// A buffer of at least `bytes` bytes, 64-byte aligned; its contents are undefined.
    func take(bytes: Int) -> ArenaBuffer {
        let reused = free.withLock { $0.popLast() }
        if let reused, reused.bytes >= bytes { return reused }
        return ArenaBuffer(bytes: bytes)
    }

    func give(_ buffer: ArenaBuffer) {
        guard buffer.bytes <= Self.largestKept else { return }
        free.withLock { free in
            if free.count < Self.kept { free.append(buffer) }
        }
    }
}

/// One arena's memory. Used by one run at a time: `ArenaBuffers` hands it out and takes it back,
/// so it is never shared between threads while in use.
final class ArenaBuffer: @unchecked Sendable {
    let bytes: Int
    let base: UnsafeMutableRawPointer

    init(bytes: Int) {
        self.bytes = bytes
        self.base = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 64), alignment: 64)
    }

    deinit { base.deallocate() }
}
