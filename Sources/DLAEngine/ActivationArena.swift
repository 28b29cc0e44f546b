import CDLAKernels
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
    /// How one operation runs on the arena. Payloads are objects: taking one out of a step
    /// retains it once, where a struct's copy would retain each of its arrays on every run.
    enum Step: Sendable {
        /// An INT8 fully connected layer through the fast kernels, straight between arena slots.
        case fullyConnected(FullyConnected)
        /// An INT8 convolution image by image through the fast kernels, its im2col patches and
        /// GEMM block in the arena's scratch.
        case convolution(Convolution)
        /// A fused SDP program (the executor's `FusedSDP.plan`) straight between arena slots.
        case fusedSDP(SDP)
        /// Max or min pooling whose windows need no padding (`PDP.runUnpaddedBatch`'s case)
        /// straight between arena slots.
        case pool(Pool)
        /// A reshape: its output shares its input's bytes.
        case alias
        /// Any other operation: its inputs are copied into tensors, `Executor.execute` runs it and
        /// its output is copied into the arena.
        case general
    }

    /// Per tensor: its byte offset per batch row (× batch gives the offset), a multiple of 64.
    let rowOffsets: [Int]
    /// Per operation.
    let steps: [Step]
    /// Bytes after the activations for the convolutions' per-image scratch (not scaled by the batch).
    let scratchBytes: Int

    final class FullyConnected: Sendable {
        let weights: Int8ConvolutionWeights
        let truncation: Int

        init(weights: Int8ConvolutionWeights, truncation: Int) {
            self.weights = weights
            self.truncation = truncation
        }
    }

    final class Convolution: Sendable {
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
    }

    final class Pool: Sendable {
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
    }

    final class SDP: Sendable {
        let program: FusedSDP
        /// Elements per channel.
        let inner: Int
        /// The input is INT8 codes (an activation read from memory), not INT32 accumulators.
        let readsCodes: Bool

        init(program: FusedSDP, inner: Int, readsCodes: Bool) {
            self.program = program
            self.inner = inner
            self.readsCodes = readsCodes
        }
    }
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
    /// `strategy` is the executor's forced convolution strategy (the reference one runs on the
    /// general path), `fused` the executor's decision per SDP (`FusedSDP.plan`).
    init?(model: CompiledModel, strategy: ConvolutionStrategy?, fused: [FusedSDP?]) {
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
                  let produced = Self.producedType(operation, tensors), produced == tensors[output].elementType,
                  Self.elementBytes(produced) != nil,
                  operation.inputs.allSatisfy({ Self.elementBytes(tensors[$0].elementType) != nil })
            else { return nil }
            let input = tensors[operation.inputs[0]]
            let inputElements = input.sampleShape.reduce(1, *)
            switch operation.kind {
            case .fullyConnected(let weights, let truncation)
                where strategy != .reference && weights.reductionLength <= Int(DLA_MAX_EXACT_K) && input.elementType == .int8
                    && inputElements == weights.reductionLength && (0...ConvolutionCore.maximumTruncation).contains(truncation)
                    && tensors[output].sampleShape.reduce(1, *) == weights.outputChannels:
                steps.append(.fullyConnected(FullyConnected(weights: weights, truncation: truncation)))
            case .convolution(let parameters, let weights, let padding, let truncation)
                where strategy != .reference && input.elementType == .int8
                    && input.sampleShape == [parameters.inputChannels, parameters.inputHeight, parameters.inputWidth]
                    && (0...ConvolutionCore.maximumTruncation).contains(truncation):
                guard let geometry = try? parameters.validated(), geometry.reductionLength <= Int(DLA_MAX_EXACT_K),
                      weights.outputChannels == parameters.outputChannels, weights.reductionLength == geometry.reductionLength,
                      tensors[output].sampleShape.reduce(1, *) == parameters.outputChannels * geometry.outputHeight * geometry.outputWidth
                else {
                    steps.append(.general)
                    break
                }
                steps.append(.convolution(Convolution(parameters: parameters, geometry: geometry, weights: weights,
                                                      paddingValue: padding, truncation: truncation)))
                scratchBytes = max(scratchBytes, ConvolutionCore.scratchBytes(parameters: parameters, geometry: geometry, weights: weights, strategy: strategy))
            case .sdp where fused[index] != nil:
                guard let program = fused[index] else { return nil }
                steps.append(.fusedSDP(SDP(program: program, inner: input.sampleShape.dropFirst().reduce(1, *),
                                           readsCodes: input.elementType == .int8)))
            case .pool(let p) where p.method != .average && input.elementType == .int8 && input.sampleShape.count == 3:
                let (channels, height, width) = (input.sampleShape[0], input.sampleShape[1], input.sampleShape[2])
                guard let (oh, ow) = try? p.outputSize(height: height, width: width), oh >= 1, ow >= 1,
                      tensors[output].sampleShape.reduce(1, *) == channels * oh * ow
                else {
                    steps.append(.general)
                    break
                }
                // Unpadded windows pool in place; padded ones through a bordered copy in scratch.
                if p.padTop == 0, p.padLeft == 0, (oh - 1) * p.strideY + p.kernelHeight <= height, (ow - 1) * p.strideX + p.kernelWidth <= width {
                    steps.append(.pool(Pool(parameters: p, channels: channels, height: height, width: width, outputHeight: oh, outputWidth: ow, padded: false)))
                } else if let plane = PDP.paddedPlane(p, height: height, width: width, outputHeight: oh, outputWidth: ow) {
                    steps.append(.pool(Pool(parameters: p, channels: channels, height: height, width: width, outputHeight: oh, outputWidth: ow, padded: true)))
                    scratchBytes = max(scratchBytes, channels * plane.height * plane.width)
                } else {
                    steps.append(.general)
                }
            case .reshape where tensors[output].sampleShape.reduce(1, *) == inputElements:
                steps.append(.alias)
                root[output] = root[operation.inputs[0]]
            default:
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

    /// The element type `Executor.execute` returns for `operation` (nil: one the arena does not plan).
    private static func producedType(_ operation: EngineOperation, _ tensors: [ActivationSpec]) -> ActivationSpec.ElementType? {
        let input = tensors[operation.inputs[0]].elementType
        let output = tensors[operation.outputs[0]].elementType
        switch operation.kind {
        case .convolution, .fullyConnected: return .int32
        case .sdp(let layer): return layer.converter == nil ? .int32 : .int8
        case .pool, .contract, .concatenate, .localResponseNormalization: return .int8
        case .reshape, .transpose, .slice: return input
        case .softmax, .quantize: return output == .int8 || output == .float32 ? output : nil
        case .dequantize: return .float32
        case .floatConvolution, .floatFullyConnected, .floatSDP, .floatPool: return nil
        }
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
