#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import DLAFormat
import DLANumerics
import Dispatch
import Synchronization

/// Runs a compiled model's operations in order on a batch and reports per-operation statistics.
///
/// A batch is split over host threads (each runs the whole graph on its rows; a single row splits
/// its large convolutions over them instead) and, for the emulated latency, over the profile's DLA
/// cores (two on `xavier`). Activations are freed after
/// their last reader, so memory is bounded by the largest layers, not the whole network.
/// Results never depend on threads, strategy or instruction set.
public struct Executor: Sendable {
    public let model: CompiledModel
    public let profile: HardwareProfile
    public let threads: Int
    /// Forces a convolution strategy (tests, benchmarks); nil picks per layer.
    public let strategy: ConvolutionStrategy?
    /// The operation count, activation memory and batch this executor accepts.
    public let limits: DLAResourceLimits
    /// Activation bytes one batch row needs: the arena's planned peak, or on the general path
    /// every activation at once (its bound: it frees each after its last reader).
    let activationBytesPerRow: Int
    /// Input elements of one batch row, over all inputs.
    let inputElementsPerRow: Int

    /// Per operation: the tensors whose last reader it is (graph outputs excluded), freed after it.
    private let releases: [[Int]]
    /// Per operation: whether its first input comes straight from a convolution (SDP then reads
    /// CACC's output on the fly, no DRAM).
    private let fedByConvolution: [Bool]
    /// Per operation: SDP programs that run in one fused pass (nil: stage by stage), decided once
    /// by `FusedSDP.plan`; the general path and the arena both follow it.
    let fusedSDP: [FusedSDP?]
    /// Where each activation lives in a reused buffer; nil: the graph runs on the general path,
    /// an array per activation.
    let arena: ActivationArena?
    let arenaBuffers = ArenaBuffers()
    /// The cost every operation's stats carry until `emulatedCosts` fills in the real one.
    let unmeasuredCost: OperationCost
    /// Emulated costs per batch size: they depend on shapes and weights, only the zero-skipping
    /// estimate on the activations.
    private let costPlans = CostPlanCache()

    /// Refuses a model whose operations, or whose activations for a single row, pass `limits`.
    public init(model: CompiledModel, profile: HardwareProfile, threads: Int = 1, strategy: ConvolutionStrategy? = nil,
                limits: DLAResourceLimits = DLAResourceLimits()) throws(EngineError) {
        try self.init(model: model, profile: profile, threads: threads, strategy: strategy, usesArena: true, limits: limits)
    }

    /// `usesArena` false keeps every graph on the general path: the arena's twin in tests;
    /// `fusesSDP` false runs every SDP stage by stage (`SDP.run`): the fused pass's twin.
    init(model: CompiledModel, profile: HardwareProfile, threads: Int, strategy: ConvolutionStrategy?, usesArena: Bool,
         fusesSDP: Bool = true, limits: DLAResourceLimits = DLAResourceLimits()) throws(EngineError) {
        try EngineError.require("threads", threads, in: 1...256)
        guard model.operations.count <= limits.maxOperations else {
            throw .limitExceeded(what: "model '\(model.name)' operations", limit: "DLAResourceLimits.maxOperations",
                                 value: model.operations.count, maximum: limits.maxOperations)
        }
        try model.checkCompatible(with: profile)
        self.model = model
        self.profile = profile
        self.threads = threads
        self.strategy = strategy
        self.limits = limits
        var lastUse: [Int: Int] = [:]
        for (index, operation) in model.operations.enumerated() {
            for id in operation.inputs { lastUse[id] = index }
        }
        let keep = Set(model.outputs)
        self.releases = model.operations.indices.map { index in
            Array(Set(model.operations[index].inputs.filter { lastUse[$0] == index && !keep.contains($0) })).sorted()
        }
        var producers: [Int: ExecutionUnit] = [:]
        for operation in model.operations {
            for id in operation.outputs { producers[id] = operation.unit }
        }
        self.fedByConvolution = model.operations.map { producers[$0.inputs[0]] == .convolution }
        self.fusedSDP = fusesSDP ? FusedSDP.plan(model) : [FusedSDP?](repeating: nil, count: model.operations.count)
        let arena = usesArena ? ActivationArena(model: model, strategy: strategy, fused: fusedSDP) : nil
        self.arena = arena
        self.unmeasuredCost = PerformanceModel(profile: profile).cpu()
        // Sample shapes come from a checked file (each at most 2^32 elements), so these sums
        // of products fit Int.
        self.activationBytesPerRow = arena?.bytesPerRow ?? model.tensors.reduce(0) { total, spec in
            total + spec.sampleShape.reduce(1, *) * (spec.elementType == .int8 ? 1 : 4)
        }
        self.inputElementsPerRow = model.inputs.reduce(0) { $0 + model.tensors[$1].sampleShape.reduce(1, *) }
        try checkBatch(1)
    }

    /// Refuses a run of `batch` rows whose inputs or activation memory would pass `limits`;
    /// `run` calls it before allocating, and a server may call it before reading a request's
    /// tensors.
    public func checkBatch(_ batch: Int) throws(EngineError) {
        try EngineError.require("batch", batch, in: 1...Int(Int32.max))
        let (inputs, inputsOverflow) = inputElementsPerRow.multipliedReportingOverflow(by: batch)
        guard !inputsOverflow, inputs <= limits.maxBatchInputElements else {
            throw .limitExceeded(what: "model '\(model.name)' inputs at batch \(batch)", limit: "DLAResourceLimits.maxBatchInputElements",
                                 value: inputsOverflow ? .max : inputs, maximum: limits.maxBatchInputElements)
        }
        let (rows, rowsOverflow) = activationBytesPerRow.multipliedReportingOverflow(by: batch)
        let scratch = (arena?.scratchBytes ?? 0) * min(threads, batch)
        let (total, totalOverflow) = rows.addingReportingOverflow(scratch)
        guard !rowsOverflow, !totalOverflow, total <= limits.maxActivationBytes else {
            throw .limitExceeded(what: "model '\(model.name)' activation bytes at batch \(batch)", limit: "DLAResourceLimits.maxActivationBytes",
                                 value: rowsOverflow || totalOverflow ? .max : total, maximum: limits.maxActivationBytes)
        }
    }

    public struct Result: Sendable {
        public var outputs: [EngineValue]
        public var stats: ExecutionStats
    }

    /// Runs the graph. `inputs` follow the model's input order with the batch as dimension 0; an
    /// INT8 input may also be given as FP32, which the input converter quantizes.
    public func run(_ inputs: [EngineValue]) throws(EngineError) -> Result {
        let start = Self.monotonicNanoseconds()
        let batch = try validatedBatch(inputs)
        try checkBatch(batch)
        let workers = min(threads, batch)
        var outputs: [EngineValue]
        var operations: [OperationStats]
        var costs: EmulatedCosts
        if workers == 1 {
            // One slice: its outputs and stats become the result's, filled in place (no copies).
            // A single row has the threads for its convolutions.
            let slice = if let arena { try runSlice(inputs, arena: arena, threads: threads) } else { try runSlice(try prepare(inputs)) }
            outputs = slice.outputs
            operations = slice.operations
            costs = try emulatedCosts(batch: batch, operations: &operations, slices: [])
        } else {
            let prepared = try prepare(inputs)
            let slices = Self.split(batch, into: workers)
            let collected = SliceResults(count: slices.count)
            DispatchQueue.concurrentPerform(iterations: workers) { [self, prepared] worker in
                do throws(EngineError) {
                    let sliced = try prepared.map { value throws(EngineError) in try value.batchSlice(slices[worker]) }
                    let outcome = if let arena = self.arena { try self.runSlice(sliced, arena: arena) } else { try self.runSlice(sliced) }
                    collected.store(outcome, at: worker)
                } catch {
                    collected.fail(error)
                }
            }
            let parts = try collected.results()
            outputs = []
            for index in model.outputs.indices {
                outputs.append(try EngineValue.joinBatches(parts.map { $0.outputs[index] }))
            }
            operations = parts[0].operations
            for part in parts.dropFirst() {
                for index in operations.indices {
                    operations[index].hostNanoseconds += part.operations[index].hostNanoseconds
                }
            }
            costs = try emulatedCosts(batch: batch, operations: &operations, slices: parts.map(\.operations))
        }
        let elapsed = Self.monotonicNanoseconds() &- start
        let stats = ExecutionStats(
            profile: profile.name, batch: batch, emulatedCores: costs.cores, hostThreads: workers == 1 ? threads : workers,
            hostInstructionSet: HostKernels.active.description, operations: operations,
            total: costs.total, emulatedSeconds: costs.seconds,
            zeroSkippingSeconds: costs.zeroSkippingSeconds,
            hostNanoseconds: elapsed)
        return Result(outputs: outputs, stats: stats)
    }

    // MARK: - Inputs

    /// Checks the inputs' count, shapes, batch and types; returns the batch.
    private func validatedBatch(_ inputs: [EngineValue]) throws(EngineError) -> Int {
        guard inputs.count == model.inputs.count else {
            throw .elementCountMismatch(what: "model inputs", expected: model.inputs.count, found: inputs.count)
        }
        var batch: Int?
        for (position, value) in inputs.enumerated() {
            // Fields read in place: a copy of the spec would retain its name and shape.
            let id = model.inputs[position]
            let shape = value.shape
            guard let rows = shape.first, rows >= 1, shape.dropFirst().elementsEqual(model.tensors[id].sampleShape) else {
                throw .shapeMismatch(what: "input '\(model.tensors[id].name)' (batch first)", expected: [-1] + model.tensors[id].sampleShape, found: shape)
            }
            if let batch, batch != rows {
                throw .shapeMismatch(what: "input '\(model.tensors[id].name)' batch", expected: [batch], found: [rows])
            }
            batch = rows
            switch (model.tensors[id].elementType, value) {
            case (.int8, .int8), (.int32, .int32), (.float32, .float32), (.int8, .float32),
                 (.float16, .float32), (.fp8e4m3, .float32), (.fp8e5m2, .float32):
                break
            default:
                throw .invalidParameter(name: "input '\(model.tensors[id].name)' type", expected: model.tensors[id].elementType.rawValue, found: value.typeName)
            }
        }
        guard let batch else {
            throw .invalidParameter(name: "batch", expected: "at least one row", found: "0")
        }
        return batch
    }

    /// Validated inputs in the types of the model's input tensors (FP32 through the input converter).
    private func prepare(_ inputs: [EngineValue]) throws(EngineError) -> [EngineValue] {
        var prepared: [EngineValue] = []
        for (position, value) in inputs.enumerated() {
            let spec = model.tensors[model.inputs[position]]
            switch (spec.elementType, value) {
            case (.int8, .float32(let real)):
                let q = spec.quantization ?? ActivationQuantization(scale: 1, zeroPoint: 0)
                prepared.append(.int8(try CPUFallback.quantize(real, scale: q.scale, zeroPoint: q.zeroPoint)))
            case (.float16, .float32(let real)), (.fp8e4m3, .float32(let real)), (.fp8e5m2, .float32(let real)):
                prepared.append(try quantizeIfNeeded(real, spec))
            default:
                prepared.append(value)
            }
        }
        return prepared
    }

    static func split(_ count: Int, into parts: Int) -> [Range<Int>] {
        let parts = max(1, min(parts, count))
        return (0..<parts).map { part in (count * part / parts)..<(count * (part + 1) / parts) }
    }

    // MARK: - One slice

    /// Runs every operation on one batch slice; returns the model's outputs in order and per
    /// operation its host time and input density (the emulated cost is filled in later, see
    /// `emulatedCosts`).
    func runSlice(_ inputs: [EngineValue]) throws(EngineError) -> SliceOutcome {
        var values = [EngineValue?](repeating: nil, count: model.tensors.count)
        for (position, id) in model.inputs.enumerated() { values[id] = inputs[position] }
        var stats: [OperationStats] = []
        stats.reserveCapacity(model.operations.count)
        // Operations are borrowed through a buffer pointer: copying one (even by indexing the
        // array) would retain and release each of its weights' arrays on every run.
        var operands: [EngineValue] = []
        // One clock read per operation: each one's end is the next one's start.
        var start = Self.monotonicNanoseconds()
        try model.operations.withUnsafeBufferPointer { (operations) throws(EngineError) in
            for index in operations.indices {
                operands.removeAll(keepingCapacity: true)
                for id in operations[index].inputs {
                    guard let value = values[id] else {
                        throw .invalidParameter(name: "operation '\(operations[index].name)' input", expected: "tensor \(id) computed earlier", found: "not yet computed")
                    }
                    operands.append(value)
                }
                let (output, strategy, activationDensity) = try execute(operations.baseAddress.unsafelyUnwrapped + index, operands, fused: fusedSDP[index])
                values[operations[index].outputs[0]] = output
                for id in releases[index] { values[id] = nil }
                let end = Self.monotonicNanoseconds()
                stats.append(OperationStats(name: operations[index].name, unit: operations[index].unit, type: operations[index].type,
                                            cost: unmeasuredCost, strategy: strategy,
                                            inputDensity: activationDensity, hostNanoseconds: end &- start))
                start = end
            }
        }
        var outputs: [EngineValue] = []
        outputs.reserveCapacity(model.outputs.count)
        for id in model.outputs {
            guard let value = values[id] else {
                throw .invalidParameter(name: "model output", expected: "tensor \(id) computed", found: "never written")
            }
            outputs.append(value)
        }
        return SliceOutcome(outputs: outputs, operations: stats)
    }

    /// Runs one operation on a slice; returns its output, the strategy a convolution took and
    /// the nonzero fraction of a convolution's input (nil for other units). The operation comes
    /// by pointer: passing it by value would copy it (retaining its weights) on every call.
    func execute(_ operation: UnsafePointer<EngineOperation>, _ operands: [EngineValue], fused: FusedSDP?) throws(EngineError) -> (EngineValue, ConvolutionStrategy?, Double?) {
        let outputSpec = model.tensors[operation.pointee.outputs[0]]
        switch operation.pointee.kind {
        case .convolution(let parameters, let weights, let padding, let truncation):
            let input = try int8(operands[0], operation)
            let batch = input.shape[0]
            let sample = input.count / max(batch, 1)
            let imageShape = [parameters.inputChannels, parameters.inputHeight, parameters.inputWidth]
            if batch == 1 {
                // One image: its planes are the input's, the result is the output; no copies.
                let result = try ConvolutionCore.int8(input: try input.reshaped(imageShape), weights: weights, parameters: parameters,
                                                      paddingValue: padding, truncation: truncation, strategy: strategy)
                return (.int32(try result.accumulators.reshaped([1] + outputSpec.sampleShape)), result.strategy, Self.density(input.scalars))
            }
            var scalars: [Int32] = []
            scalars.reserveCapacity(batch * outputSpec.sampleShape.reduce(1, *))
            var used: ConvolutionStrategy = .dense
            for row in 0..<batch {
                let image = try Tensor(shape: imageShape, scalars: Array(input.scalars[(row * sample)..<((row + 1) * sample)]))
                let result = try ConvolutionCore.int8(input: image, weights: weights, parameters: parameters,
                                                      paddingValue: padding, truncation: truncation, strategy: strategy)
                used = result.strategy
                scalars.append(contentsOf: result.accumulators.scalars)
            }
            let out = try Tensor(shape: [batch] + outputSpec.sampleShape, scalars: scalars)
            return (.int32(out), used, Self.density(input.scalars))
        case .fullyConnected(let weights, let truncation):
            let input = try int8(operands[0], operation)
            let batch = input.shape[0]
            let matrix = try input.reshaped([batch, input.count / max(batch, 1)])
            let result = try ConvolutionCore.int8FullyConnected(input: matrix, weights: weights, truncation: truncation, strategy: strategy)
            return (.int32(result.accumulators), result.strategy, Self.density(input.scalars))
        case .floatConvolution(let parameters, let weights, _):
            let input = try floats(operands[0], operation)
            let out = try perSample(input, outputSpec) { image throws(EngineError) in
                try ConvolutionCore.float(input: image, weights: weights, parameters: parameters, atomicC: profile.atomicC)
            }
            return (.float32(out), nil, Self.density(input.scalars))
        case .floatFullyConnected(let weights, _):
            let input = try floats(operands[0], operation)
            let features = weights.shape[1]
            let parameters = ConvolutionParameters.fullyConnected(inputFeatures: features, outputFeatures: weights.shape[0])
            let kernel = try weights.reshaped([weights.shape[0], features, 1, 1])
            let flat = try input.reshaped([input.shape[0], features, 1, 1])
            let out = try perSample(flat, outputSpec) { image throws(EngineError) in
                try ConvolutionCore.float(input: image, weights: kernel, parameters: parameters, atomicC: profile.atomicC).reshaped([weights.shape[0]])
            }
            return (.float32(out), nil, Self.density(input.scalars))
        case .floatSDP(let layer):
            let input = try floats(operands[0], operation)
            let operand = operands.count > 1 ? try floats(operands[1], operation) : nil
            return (.float32(try Self.floatSDP(layer, input, operand: operand)), nil, nil)
        case .floatPool(let p):
            let input = try floats(operands[0], operation)
            let out = try perSample(input, outputSpec) { image throws(EngineError) in
                let pooled = try PDP.runFloat(image, p, profile: profile)
                return try Tensor(shape: pooled.shape, scalars: pooled.scalars.map(outputSpec.elementType.round))
            }
            return (.float32(out), nil, nil)
        case .sdp(let layer):
            if let fused {
                return (.int8(try Self.runFused(fused, operands, operation)), nil, nil)
            }
            let input = try int32Values(operands[0])
            var operand: Tensor<Int32>?
            if let elementwise = layer.elementwise, operands.count > 1 {
                let raw = try int32Values(operands[1])
                operand = try Tensor(shape: raw.shape, scalars: raw.scalars.map {
                    elementwise.operandConverter.convert(Int64($0), to: Int32.min...Int32.max)
                })
            }
            let parameters = layer.parameters(operand: operand)
            if layer.converter == nil {
                let values = try SDP.runStages(input, parameters.stages, profile: profile, channelAxis: 1)
                return (.int32(try Tensor(shape: input.shape, scalars: values)), nil, nil)
            }
            return (.int8(try SDP.run(input, parameters, profile: profile, channelAxis: 1)), nil, nil)
        case .pool(let p):
            let input = try int8(operands[0], operation)
            var batchPooled = try PDP.runUnpaddedBatch(input, p)
            if batchPooled == nil {
                batchPooled = try PDP.runPaddedBatch(input, p)
            }
            if let pooled = batchPooled {
                return (.int8(pooled), nil, nil)
            }
            return (.int8(try perSample(input, outputSpec) { image throws(EngineError) in try PDP.run(image, p, profile: profile) }), nil, nil)
        case .localResponseNormalization(let p):
            let input = try int8(operands[0], operation)
            return (.int8(try perSample(input, outputSpec) { image throws(EngineError) in try CDP.run(image, p, profile: profile) }), nil, nil)
        case .transpose(let permutation):
            return (try operands[0].transformed(Transpose(permutation: permutation, profile: profile)), nil, nil)
        case .contract(let strideY, let strideX):
            let input = try int8(operands[0], operation)
            return (.int8(try perSample(input, outputSpec) { image throws(EngineError) in
                try Rubik.contract(image, strideY: strideY, strideX: strideX, profile: profile)
            }), nil, nil)
        case .concatenate(let axis):
            // BDMA copies bytes: INT8 codes, or FP16/FP8 values (carried as float32).
            if case .float32? = operands.first {
                let parts = try operands.map { value throws(EngineError) in try floats(value, operation) }
                return (.float32(try BDMA.concatenate(parts, axis: axis, profile: profile)), nil, nil)
            }
            let parts = try operands.map { value throws(EngineError) in try int8(value, operation) }
            return (.int8(try BDMA.concatenate(parts, axis: axis, profile: profile)), nil, nil)
        case .slice(let axis, let range):
            return (try operands[0].transformed(Slice(axis: axis, range: range, profile: profile)), nil, nil)
        case .reshape:
            return (try operands[0].transformed(Reshape(shape: [operands[0].shape[0]] + outputSpec.sampleShape)), nil, nil)
        case .softmax:
            let real = try self.real(operands[0], model.tensors[operation.pointee.inputs[0]])
            let probabilities = try CPUFallback.softmax(real)
            return (try quantizeIfNeeded(probabilities, outputSpec), nil, nil)
        case .quantize:
            let real = try self.real(operands[0], model.tensors[operation.pointee.inputs[0]])
            return (try quantizeIfNeeded(real, outputSpec), nil, nil)
        case .dequantize:
            return (.float32(try self.real(operands[0], model.tensors[operation.pointee.inputs[0]])), nil, nil)
        }
    }

    private func int8(_ value: EngineValue, _ operation: UnsafePointer<EngineOperation>) throws(EngineError) -> Tensor<Int8> {
        guard case .int8(let tensor) = value else {
            throw .invalidParameter(name: "operation '\(operation.pointee.name)' input type", expected: "int8", found: value.typeName)
        }
        return tensor
    }

    /// A fused SDP program (`FusedSDP.plan` checked the tensors' types and shapes) on its input
    /// and, when it adds one, its INT8 operand.
    private static func runFused(_ fused: FusedSDP, _ operands: [EngineValue], _ operation: UnsafePointer<EngineOperation>) throws(EngineError) -> Tensor<Int8> {
        let shape = operands[0].shape
        if case .float32 = operands[0] {
            throw .invalidParameter(name: "operation '\(operation.pointee.name)' input type", expected: "int8 or int32", found: "float32")
        }
        guard shape.count >= 2, shape[1] == fused.channels else {
            throw .shapeMismatch(what: "operation '\(operation.pointee.name)' input", expected: [-1, fused.channels], found: shape)
        }
        var operand: [Int8] = []
        if fused.addsOperand {
            guard operands.count > 1, case .int8(let y) = operands[1], y.shape == shape else {
                throw .invalidParameter(name: "operation '\(operation.pointee.name)' element-wise operand", expected: "int8 of shape \(shape)",
                                        found: operands.count > 1 ? "\(operands[1].typeName) of shape \(operands[1].shape)" : "none")
            }
            operand = y.scalars
        }
        let inner = shape.dropFirst(2).reduce(1, *)
        let count = operands[0].count
        let out = operand.withUnsafeBufferPointer { y in
            [Int8](unsafeUninitializedCapacity: count) { buffer, initialized in
                switch operands[0] {
                case .int32(let input):
                    input.scalars.withUnsafeBufferPointer { fused.run($0, operand: y, inner: inner, into: buffer) }
                case .int8(let input):
                    input.scalars.withUnsafeBufferPointer { fused.run($0, operand: y, inner: inner, into: buffer) }
                case .float32:
                    break
                }
                initialized = count
            }
        }
        return try Tensor(shape: shape, scalars: out)
    }

    private func int32Values(_ value: EngineValue) throws(EngineError) -> Tensor<Int32> {
        switch value {
        case .int32(let t): return t
        case .int8(let t): return try Tensor(shape: t.shape, scalars: t.scalars.map { Int32($0) })
        case .float32: throw .invalidParameter(name: "SDP input type", expected: "int8 or int32", found: "float32")
        }
    }

    /// Real values of a tensor: integer codes dequantized with the tensor's quantization.
    private func real(_ value: EngineValue, _ spec: ActivationSpec) throws(EngineError) -> Tensor<Float> {
        let q = spec.quantization ?? ActivationQuantization(scale: 1, zeroPoint: 0)
        switch value {
        case .float32(let t):
            // FP16/FP8 tensors store `real / scale`; FP32 tensors hold real values.
            return spec.elementType == .float32 || q.scale == 1 ? t : try Tensor(shape: t.shape, scalars: t.scalars.map { $0 * q.scale })
        case .int8(let t): return try CPUFallback.dequantize(t, scale: q.scale, zeroPoint: q.zeroPoint)
        case .int32(let t):
            return try Tensor(shape: t.shape, scalars: t.scalars.map { AffineQuantization.dequantize($0, scale: q.scale, zeroPoint: q.zeroPoint) })
        }
    }

    private func quantizeIfNeeded(_ real: Tensor<Float>, _ spec: ActivationSpec) throws(EngineError) -> EngineValue {
        switch spec.elementType {
        case .float32: return .float32(real)
        case .int8:
            let q = spec.quantization ?? ActivationQuantization(scale: 1, zeroPoint: 0)
            return .int8(try CPUFallback.quantize(real, scale: q.scale, zeroPoint: q.zeroPoint))
        case .float16, .fp8e4m3, .fp8e5m2:
            let scale = spec.quantization?.scale ?? 1
            return .float32(try Tensor(shape: real.shape, scalars: real.scalars.map { spec.elementType.round($0 / scale) }))
        case .int32:
            throw .invalidParameter(name: "CPU fallback output '\(spec.name)'", expected: "a float type or int8", found: "int32")
        }
    }

    private func floats(_ value: EngineValue, _ operation: UnsafePointer<EngineOperation>) throws(EngineError) -> Tensor<Float> {
        guard case .float32(let tensor) = value else {
            throw .invalidParameter(name: "operation '\(operation.pointee.name)' input type", expected: "a floating type", found: value.typeName)
        }
        return tensor
    }

    /// The FP32 SDP pipeline on a `[batch, C, ...]` tensor (see `FloatSDPLayer`).
    static func floatSDP(_ layer: FloatSDPLayer, _ input: Tensor<Float>, operand: Tensor<Float>?) throws(EngineError) -> Tensor<Float> {
        let channels = input.shape.count > 1 ? input.shape[1] : 1
        let inner = input.shape.dropFirst(2).reduce(1, *)
        if let operand, operand.shape != input.shape {
            throw .shapeMismatch(what: "SDP element-wise operand", expected: input.shape, found: operand.shape)
        }
        var out = input.scalars
        for i in out.indices {
            let c = (i / inner) % channels
            var x = out[i]
            if let bias = layer.bias { x += bias[c] }
            if let scale = layer.scale { x *= scale[c] }
            if let (operation, operandScale) = layer.elementwise, let operand {
                let y = operand.scalars[i] * operandScale
                x = operation == .add ? x + y : max(x, y)
            }
            switch layer.activation {
            case .none: break
            case .relu: x = max(x, 0)
            case .clip(let lower, let upper): x = min(max(x, lower), upper)
            case .prelu(let slopes): if x < 0 { x *= slopes[c] }
            case .sigmoid: x = 1 / (1 + expf(-x))
            case .tanh: x = tanhf(x)
            }
            out[i] = layer.outputType.round(x * layer.outputScale, saturating: layer.saturates)
        }
        return try Tensor(shape: input.shape, scalars: out)
    }

    /// Runs a per-image unit on each sample of a batch and stacks the results.
    private func perSample<Scalar>(_ input: Tensor<Scalar>, _ outputSpec: ActivationSpec,
                                   _ body: (Tensor<Scalar>) throws(EngineError) -> Tensor<Scalar>) throws(EngineError) -> Tensor<Scalar> {
        let batch = input.shape[0]
        let sample = input.count / max(batch, 1)
        var scalars: [Scalar] = []
        for row in 0..<batch {
            let image = try Tensor(shape: Array(input.shape.dropFirst()), scalars: Array(input.scalars[(row * sample)..<((row + 1) * sample)]))
            let result = try body(image)
            guard result.shape == outputSpec.sampleShape else {
                throw .shapeMismatch(what: "output '\(outputSpec.name)'", expected: outputSpec.sampleShape, found: result.shape)
            }
            scalars.append(contentsOf: result.scalars)
        }
        return try Tensor(shape: [batch] + outputSpec.sampleShape, scalars: scalars)
    }

    /// The monotonic clock in nanoseconds (`CLOCK_MONOTONIC`, what `ContinuousClock` reads on
    /// Linux), without `Duration`'s attosecond arithmetic: a run reads it twice per operation.
    static func monotonicNanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(max(0, time.tv_sec)) &* 1_000_000_000 &+ UInt64(max(0, time.tv_nsec))
    }

    static func density(_ values: [Int8]) -> Double {
        values.isEmpty ? 1 : Double(IntegerArithmetic.nonzeroCount(values)) / Double(values.count)
    }

    static func density(_ values: [Float]) -> Double {
        var nonzero = 0
        for value in values where value != 0 { nonzero += 1 }
        return values.isEmpty ? 1 : Double(nonzero) / Double(values.count)
    }

    // MARK: - Emulated cost

    /// Fills in each operation's emulated cost. `slices` holds every host slice's stats when
    /// the batch was split; empty, `operations` is the only slice and its densities count.
    private func emulatedCosts(batch: Int, operations: inout [OperationStats], slices: [[OperationStats]]) throws(EngineError) -> EmulatedCosts {
        let plan: CostPlan
        if let cached = costPlans.plan(batch: batch) {
            plan = cached
        } else {
            plan = try costPlan(batch: batch)
            costPlans.store(plan, batch: batch)
        }
        // Cycles per emulated core, on the stack: two heap arrays cost more than the loop.
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * plan.cores) { cycles in
            cycles.initialize(repeating: 0)
            let coreCycles = UnsafeMutableBufferPointer(rebasing: cycles[0..<plan.cores])
            let coreSkipping = UnsafeMutableBufferPointer(rebasing: cycles[plan.cores...])
            // One array for every operation's per-core costs, refilled: an array per operation
            // would be a heap allocation each.
            var perCore: [OperationCost] = []
            perCore.reserveCapacity(plan.cores)
            for index in operations.indices {
                if let total = plan.fixedTotals[index] {
                    for (core, planned) in plan.operations[index].enumerated() {
                        let cost = planned.cost(activationDensity: 1)
                        coreCycles[core] += cost.hardwareCycles
                        coreSkipping[core] += cost.zeroSkippingCycles
                    }
                    operations[index].cost = total
                    continue
                }
                // Mean input density the slices saw, weighted equally (slices differ by one row at most).
                var seen = 0.0, count = 0
                if slices.isEmpty {
                    if let density = operations[index].inputDensity {
                        seen += density
                        count += 1
                    }
                }
                for slice in slices {
                    if let density = slice[index].inputDensity {
                        seen += density
                        count += 1
                    }
                }
                let activationDensity = count == 0 ? 1 : seen / Double(count)
                perCore.removeAll(keepingCapacity: true)
                for planned in plan.operations[index] {
                    perCore.append(planned.cost(activationDensity: activationDensity))
                }
                for (core, cost) in perCore.enumerated() {
                    coreCycles[core] += cost.hardwareCycles
                    coreSkipping[core] += cost.zeroSkippingCycles
                }
                // The stats carry the operation's unit: indexing `model.operations` would copy the
                // operation (retaining its weights).
                let unit = operations[index].unit
                var summed = OperationCost.total(perCore, unit: unit)
                summed.unit = unit
                operations[index].cost = summed
            }
            return EmulatedCosts(cores: plan.cores, total: OperationCost.total(operations.lazy.map(\.cost)),
                                 seconds: Double(coreCycles.max() ?? 0) / profile.clockHertz,
                                 zeroSkippingSeconds: Double(coreSkipping.max() ?? 0) / profile.clockHertz)
        }
    }

    /// Every operation's cost on every emulated core for a batch of `batch` rows.
    private func costPlan(batch: Int) throws(EngineError) -> CostPlan {
        let model = PerformanceModel(profile: profile)
        let coreSlices = Self.split(batch, into: profile.cores)
        var operations: [[PlannedCost]] = []
        for (index, operation) in self.model.operations.enumerated() {
            var perCore: [PlannedCost] = []
            for slice in coreSlices {
                perCore.append(try cost(of: operation, batch: slice.count, fused: fedByConvolution[index], model: model))
            }
            operations.append(perCore)
        }
        let fixedTotals = operations.indices.map { index -> OperationCost? in
            var costs: [OperationCost] = []
            for planned in operations[index] {
                guard case .fixed(let cost) = planned else { return nil }
                costs.append(cost)
            }
            var total = OperationCost.total(costs, unit: self.model.operations[index].unit)
            total.unit = self.model.operations[index].unit
            return total
        }
        return CostPlan(cores: coreSlices.count, operations: operations, fixedTotals: fixedTotals)
    }

    private func cost(of operation: EngineOperation, batch: Int, fused: Bool, model: PerformanceModel) throws(EngineError) -> PlannedCost {
        let input = self.model.tensors[operation.inputs[0]]
        let output = self.model.tensors[operation.outputs[0]]
        let inputElements = input.sampleShape.reduce(1, *) * batch
        let outputElements = output.sampleShape.reduce(1, *) * batch
        switch operation.kind {
        case .convolution(let p, let weights, _, _):
            return .convolution(try model.convolutionCost(p, precision: .int8, batch: batch, weightDensity: weights.density))
        case .fullyConnected(let weights, _):
            let p = ConvolutionParameters.fullyConnected(inputFeatures: weights.reductionLength, outputFeatures: weights.outputChannels)
            return .convolution(try model.convolutionCost(p, precision: .int8, batch: batch, weightDensity: weights.density))
        case .sdp(let layer):
            let operand: Tensor<Int32>? = layer.elementwise == nil ? nil : try Tensor(shape: [outputElements], repeating: 0)
            return .fixed(try model.sdp(layer.parameters(operand: operand), elements: outputElements,
                                        channels: output.sampleShape.first ?? 1, fused: fused, inputElementBytes: input.elementType.bytes))
        case .pool(let p), .floatPool(let p):
            return .fixed(try model.pdp(p, channels: input.sampleShape[0] * batch, height: input.sampleShape[1], width: input.sampleShape[2]))
        case .floatConvolution(let p, let weights, let precision):
            return .convolution(try model.convolutionCost(p, precision: precision, batch: batch, weightDensity: Self.density(weights.scalars)))
        case .floatFullyConnected(let weights, let precision):
            let p = ConvolutionParameters.fullyConnected(inputFeatures: weights.shape[1], outputFeatures: weights.shape[0])
            return .convolution(try model.convolutionCost(p, precision: precision, batch: batch, weightDensity: Self.density(weights.scalars)))
        case .floatSDP(let layer):
            return .fixed(try model.sdp(try layer.costEquivalent(elements: outputElements), elements: outputElements,
                                        channels: output.sampleShape.first ?? 1, fused: fused, inputElementBytes: input.elementType.bytes))
        case .localResponseNormalization(let p):
            return .fixed(try model.cdp(p, elements: inputElements))
        case .transpose, .contract:
            return .fixed(try model.dataMovement(.rubik, bytes: inputElements))
        case .concatenate, .slice:
            return .fixed(try model.dataMovement(.bdma, bytes: outputElements))
        case .reshape, .softmax, .quantize, .dequantize:
            return .fixed(model.cpu())
        }
    }
}

/// One host slice's run: the model's outputs and per-operation host stats.
struct SliceOutcome: Sendable {
    var outputs: [EngineValue]
    var operations: [OperationStats]
}

/// A run's emulated figures beside the per-operation costs.
struct EmulatedCosts {
    var cores: Int
    var total: OperationCost
    var seconds: Double
    var zeroSkippingSeconds: Double
}

/// One operation's emulated cost on one core, as far as it is known before the run.
enum PlannedCost: Sendable {
    case fixed(OperationCost)
    /// Convolutions: the zero-skipping estimate waits for the activation density.
    case convolution(ConvolutionCost)

    func cost(activationDensity: Double) -> OperationCost {
        switch self {
        case .fixed(let cost): cost
        case .convolution(let cost): cost.cost(activationDensity: activationDensity)
        }
    }
}

/// Every operation's planned cost per emulated core, for one batch size.
struct CostPlan: Sendable {
    var cores: Int
    var operations: [[PlannedCost]]
    /// Per operation: its total over the cores when no part depends on the activations.
    var fixedTotals: [OperationCost?]
}

/// Cost plans by batch size, shared by copies of an executor and its threads. Sizes beyond a
/// few dozen are not kept (a server cycling through every batch size would grow it unboundedly).
final class CostPlanCache: Sendable {
    private static let capacity = 64
    private let plans = Mutex<[Int: CostPlan]>([:])

    func plan(batch: Int) -> CostPlan? {
        plans.withLock { $0[batch] }
    }

    func store(_ plan: CostPlan, batch: Int) {
        plans.withLock { plans in
            if plans.count < Self.capacity { plans[batch] = plan }
        }
    }
}

/// Per-thread results of one run, filled concurrently.
private final class SliceResults: Sendable {
    private let state: Mutex<(results: [SliceOutcome?], failure: EngineError?)>

    init(count: Int) {
        state = Mutex((Array(repeating: nil, count: count), nil))
    }

    func store(_ result: SliceOutcome, at index: Int) {
        state.withLock { $0.results[index] = result }
    }

    func fail(_ error: EngineError) {
        state.withLock { if $0.failure == nil { $0.failure = error } }
    }

    func results() throws(EngineError) -> [SliceOutcome] {
        let (results, failure) = state.withLock { ($0.results, $0.failure) }
        if let failure { throw failure }
        return results.compactMap { $0 }
    }
}

/// A shape transformation that works on tensors of any element type.
protocol TensorTransform {
    func callAsFunction<T: Sendable>(_ tensor: Tensor<T>) throws(EngineError) -> Tensor<T>
}

struct Transpose: TensorTransform {
    let permutation: [Int]
    let profile: HardwareProfile
    func callAsFunction<T: Sendable>(_ tensor: Tensor<T>) throws(EngineError) -> Tensor<T> {
        try Rubik.transpose(tensor, permutation: permutation, profile: profile)
    }
}

struct Slice: TensorTransform {
    let axis: Int
    let range: Range<Int>
    let profile: HardwareProfile
    func callAsFunction<T: Sendable>(_ tensor: Tensor<T>) throws(EngineError) -> Tensor<T> {
        try BDMA.slice(tensor, axis: axis, range: range, profile: profile)
    }
}

struct Reshape: TensorTransform {
    let shape: [Int]
    func callAsFunction<T: Sendable>(_ tensor: Tensor<T>) throws(EngineError) -> Tensor<T> {
        try tensor.reshaped(shape)
    }
}

extension EngineValue {
    func transformed(_ transform: some TensorTransform) throws(EngineError) -> EngineValue {
        switch self {
        case .int8(let t): .int8(try transform(t))
        case .int32(let t): .int32(try transform(t))
        case .float32(let t): .float32(try transform(t))
        }
    }
}
