#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import DLAFormat
import Dispatch
import Synchronization

/// Runs a compiled model's operations in order on a batch and reports per-operation statistics.
/// It only schedules: what each operation does, costs and how the arena runs it is its operator's
/// (`EngineOperator`, one file per operation in `Operations/`).
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
    /// Per operation: its operator as this executor runs it (`EngineOperator.planned`, e.g. an SDP
    /// as its fused pass); the general path and the arena both run these.
    let operators: [any EngineOperator]
    /// What the operators read of this executor when they run.
    let context: ExecutionContext
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
        let operators = model.operations.map { operation in
            operation.kind.planned(OperatorPlanning(model: model, operation: operation, fusesSDP: fusesSDP))
        }
        self.operators = operators
        self.context = ExecutionContext(profile: profile, strategy: strategy, tensors: model.tensors)
        let arena = usesArena ? ActivationArena(model: model, operators: operators, strategy: strategy) : nil
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
                prepared.append(try EngineValue.encoding(real, as: spec))
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
                let outcome = try operators[index].execute(operands, operations.baseAddress.unsafelyUnwrapped + index, context)
                values[operations[index].outputs[0]] = outcome.value
                for id in releases[index] { values[id] = nil }
                let end = Self.monotonicNanoseconds()
                stats.append(OperationStats(name: operations[index].name, unit: operations[index].unit, type: operations[index].type,
                                            cost: unmeasuredCost, strategy: outcome.strategy,
                                            inputDensity: outcome.inputDensity, hostNanoseconds: end &- start))
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

    /// The monotonic clock in nanoseconds (`CLOCK_MONOTONIC`, what `ContinuousClock` reads on
    /// Linux), without `Duration`'s attosecond arithmetic: a run reads it twice per operation.
    static func monotonicNanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(max(0, time.tv_sec)) &* 1_000_000_000 &+ UInt64(max(0, time.tv_nsec))
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
                perCore.append(try operators[index].cost(CostQuery(model: model, input: self.model.tensors[operation.inputs[0]],
                                                                   output: self.model.tensors[operation.outputs[0]], batch: slice.count,
                                                                   fedByConvolution: fedByConvolution[index])))
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
