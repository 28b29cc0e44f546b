import DLAEngine

/// Why the pool did not run a request.
public enum EnginePoolError: Error, Sendable, Equatable {
    /// The queue is at capacity: the API answers 503 with Retry-After.
    case overloaded(capacity: Int)
    /// The request's deadline passed before a core took it.
    case deadlineExceeded
    /// The engine refused the inputs or failed.
    case engine(String)
    /// The pool is shutting down.
    case stopped
}

/// What one request gets back: its rows of every output and its share of the batch's cost.
public struct EngineJobResult: Sendable {
    public var outputs: [EngineValue]
    public var cycles: Int64
    public var energyPicojoules: Double
    /// Rows of the batch the request ran in (its own and those batched with it).
    public var batchRows: Int
}

/// N emulated DLA cores behind one bounded queue.
///
/// A core is a slot, not a thread: at most `cores` batches run at once. Queued work runs on the
/// pool's worker threads. A cheap request (its version's recent runs say it takes at most
/// `inlineNanoseconds`) submitted while a core is idle and nothing waits runs at once on the
/// submitting thread instead: for a LeNet-sized model the hand-off to a worker (a futex wake, two
/// context switches, a contended lock) cost more CPU than the inference itself.
///
/// Concurrent requests for the same model version are run as one batch (up to `maxBatchRows`,
/// waiting at most `batchWaitNanoseconds` for more), as Triton's dynamic batcher does: the
/// engine's results never depend on the batch, only its speed does. A request carries a
/// deadline; one whose deadline passes while it waits is answered without running, and a core
/// whose batch runs past its deadline counts as stuck for the health check.
public final class EnginePool: Sendable {
    public struct Snapshot: Sendable, Equatable {
        public var cores: Int
        public var busy: Int
        public var queued: Int
        public var queueCapacity: Int
        public var stuck: Int
        /// Batches finished since start (progress the watchdog looks for).
        public var completedBatches: Int
    }

    private final class Job: @unchecked Sendable {
        let version: LoadedVersion
        let inputs: [EngineValue]
        let rows: Int
        let deadline: UInt64
        let complete: @Sendable (Result<EngineJobResult, EnginePoolError>) -> Void

        init(version: LoadedVersion, inputs: [EngineValue], rows: Int, deadline: UInt64,
             complete: @escaping @Sendable (Result<EngineJobResult, EnginePoolError>) -> Void) {
            self.version = version
            self.inputs = inputs
            self.rows = rows
            self.deadline = deadline
            self.complete = complete
        }
    }

    /// Everything behind `lock`.
    private final class State: @unchecked Sendable {
        /// Oldest first, at most `queueCapacity` long. A job leaves it (and releases its model
        /// version and inputs) as soon as a core takes it.
        var queue: [Job] = []
        var stopping = false
        /// Worker threads still running.
        var running = 0
        /// Per core: the deadline of the batch it runs (nil when idle).
        var deadlines: [UInt64?]
        var frozen: Set<Int> = []
        var completedBatches = 0

        init(cores: Int) { deadlines = Array(repeating: nil, count: cores) }
        var queuedCount: Int { queue.count }
        /// The lowest idle core.
        var idleCore: Int? { deadlines.firstIndex { $0 == nil } }
    }

    public let cores: Int
    public let queueCapacity: Int
    public let maxBatchRows: Int
    public let batchWaitNanoseconds: UInt64
    /// Requests expected to take at most this long may run on the submitting thread (0: never).
    public let inlineNanoseconds: UInt64
    private let lock = ConditionLock()
    private let state: State
    private let finished = ConditionLock()

    public init(cores: Int, queueCapacity: Int, maxBatchRows: Int, batchWaitMicroseconds: Int, inlineMicroseconds: Int = 0) {
        self.cores = cores
        self.queueCapacity = queueCapacity
        self.maxBatchRows = maxBatchRows
        self.batchWaitNanoseconds = UInt64(batchWaitMicroseconds) * 1000
        self.inlineNanoseconds = UInt64(max(inlineMicroseconds, 0)) * 1000
        state = State(cores: cores)
        state.running = cores
        for worker in 0..<cores {
            _ = WorkerThread.start(name: "dlad-engine-\(worker)") { [self] in self.work() }
        }
    }

    /// Runs `inputs` (batch in dimension 0, `rows` rows) on `version` within `timeoutNanoseconds`,
    /// always on a worker thread (never on the caller's, which is Swift's cooperative pool).
    public func run(_ version: LoadedVersion, inputs: [EngineValue], rows: Int, timeoutNanoseconds: UInt64) async throws(EnginePoolError) -> EngineJobResult {
        let result = await withCheckedContinuation { continuation in
            submit(version, inputs: inputs, rows: rows, timeoutNanoseconds: timeoutNanoseconds) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// `run` for callers that are not async tasks: `completion` is called on the thread that ran
    /// the batch, or at once on the caller's thread when the queue refuses the job or when
    /// `mayRunHere` and the job is cheap and a core idle (it then runs before `submit` returns).
    public func submit(_ version: LoadedVersion, inputs: [EngineValue], rows: Int, timeoutNanoseconds: UInt64, mayRunHere: Bool = false,
                       completion: @escaping @Sendable (Result<EngineJobResult, EnginePoolError>) -> Void) {
        let job = Job(version: version, inputs: inputs, rows: rows, deadline: monotonicNanoseconds() &+ timeoutNanoseconds, complete: completion)
        let cheap = mayRunHere && inlineNanoseconds > 0 && version.expectedNanoseconds(rows: rows).map { $0 <= inlineNanoseconds } == true
        enum Admission { case refused(EnginePoolError), queued, runHere(core: Int) }
        let admission: Admission = lock.withLock {
            if state.stopping { return .refused(.stopped) }
            // Only when nothing waits (first come, first served) and no core is frozen (fault
            // injection must see its requests reach the frozen core).
            if cheap, state.queue.isEmpty, state.frozen.isEmpty, let core = state.idleCore {
                state.deadlines[core] = job.deadline
                return .runHere(core: core)
            }
            if state.queuedCount >= queueCapacity { return .refused(.overloaded(capacity: queueCapacity)) }
            state.queue.append(job)
            lock.signal()
            return .queued
        }
        switch admission {
        case .refused(let error): completion(.failure(error))
        case .queued: break
        case .runHere(let core):
            execute([job])
            release(core: core)
        }
    }

    public var snapshot: Snapshot {
        let now = monotonicNanoseconds()
        return lock.withLock {
            Snapshot(cores: cores, busy: state.deadlines.count { $0 != nil }, queued: state.queuedCount, queueCapacity: queueCapacity,
                     stuck: state.deadlines.count { deadline in deadline.map { now > $0 } ?? false },
                     completedBatches: state.completedBatches)
        }
    }

    /// Fault injection (tests of the watchdog): the core takes its next batch but does not run
    /// it until `thaw`, and reports it as stuck once that batch's deadline passes.
    public func freeze(core: Int) {
        lock.withLock { _ = state.frozen.insert(core) }
    }

    public func thaw(core: Int) {
        lock.withLock {
            state.frozen.remove(core)
            lock.broadcast()
        }
    }

    /// Stops taking new requests, lets the queued and running ones finish (those running on a
    /// caller's thread too), and waits for the worker threads.
    public func shutdown() {
        lock.withLock {
            state.stopping = true
            state.frozen.removeAll()
            lock.broadcast()
        }
        finished.withLock {
            while lock.withLock({ state.running > 0 || state.deadlines.contains { $0 != nil } }) {
                finished.wait(untilNanoseconds: monotonicNanoseconds() + 10_000_000)
            }
        }
    }

    private func work() {
        while let (batch, core) = nextBatch() {
            // A frozen core (fault injection) holds its batch without running it, as a hung
            // accelerator would: past the batch's deadline it counts as stuck.
            lock.withLock {
                while state.frozen.contains(core) { lock.wait() }
            }
            execute(batch)
            release(core: core)
        }
        lock.withLock { state.running -= 1 }
        finished.withLock { finished.broadcast() }
    }

    /// Frees `core`; a job that waited for a core (all were busy) gets a worker.
    private func release(core: Int) {
        lock.withLock {
            state.deadlines[core] = nil
            state.completedBatches += 1
            if !state.queue.isEmpty { lock.signal() }
        }
    }

    /// The next batch and the idle core that takes it: the oldest job and the queued jobs for
    /// the same version that fit beside it. Nil once stopping and the queue is empty.
    private func nextBatch() -> ([Job], core: Int)? {
        lock.withLock {
            var core = 0
            while true {
                if state.queuedCount > 0, let idle = state.idleCore {
                    core = idle
                    break
                }
                if state.stopping, state.queuedCount == 0 { return nil }
                lock.wait()
            }
            let now = monotonicNanoseconds()
            let first = state.queue.removeFirst()
            // Taken now: while this worker waits for companions the lock is released, and a
            // caller must not run a job on the same core.
            state.deadlines[core] = first.deadline
            var batch = [first]
            var rows = first.rows
            takeCompanions(of: first, into: &batch, rows: &rows)
            if batchWaitNanoseconds > 0, rows < maxBatchRows {
                let until = now + batchWaitNanoseconds
                while rows < maxBatchRows, monotonicNanoseconds() < until, !state.stopping {
                    lock.wait(untilNanoseconds: until)
                    takeCompanions(of: first, into: &batch, rows: &rows)
                }
            }
            state.deadlines[core] = batch.map(\.deadline).max()
            return (batch, core)
        }
    }

    /// Moves queued jobs for `first`'s version into the batch while the rows fit (lock held).
    private func takeCompanions(of first: Job, into batch: inout [Job], rows: inout Int) {
        guard !state.queue.isEmpty, rows < maxBatchRows else { return }
        let types = first.inputs.map(\.typeName)
        var kept: [Job] = []
        kept.reserveCapacity(state.queue.count)
        for candidate in state.queue {
            if candidate.version === first.version, rows + candidate.rows <= maxBatchRows, candidate.inputs.map(\.typeName) == types {
                batch.append(candidate)
                rows += candidate.rows
            } else {
                kept.append(candidate)
            }
        }
        state.queue = kept
    }

    private func execute(_ batch: [Job]) {
        let now = monotonicNanoseconds()
        var live: [Job] = []
        for job in batch {
            if now > job.deadline { job.complete(.failure(.deadlineExceeded)) } else { live.append(job) }
        }
        guard let first = live.first else { return }
        let totalRows = live.reduce(0) { $0 + $1.rows }
        do throws(EngineError) {
            let inputs: [EngineValue]
            if live.count == 1 {
                inputs = first.inputs
            } else {
                inputs = try first.inputs.indices.map { index throws(EngineError) in
                    try EngineValue.joinBatches(live.map { $0.inputs[index] })
                }
            }
            let started = monotonicNanoseconds()
            let result = try first.version.executor.run(inputs)
            first.version.recordRun(nanoseconds: monotonicNanoseconds() &- started, rows: totalRows)
            let cycles = Double(result.stats.total.hardwareCycles)
            let energy = result.stats.total.energyPicojoules
            var offset = 0
            for job in live {
                let range = offset..<(offset + job.rows)
                offset += job.rows
                let outputs: [EngineValue]
                if live.count == 1 {
                    outputs = result.outputs
                } else {
                    outputs = try result.outputs.map { value throws(EngineError) in try value.batchSlice(range) }
                }
                let share = Double(job.rows) / Double(totalRows)
                job.complete(.success(EngineJobResult(outputs: outputs, cycles: Int64((cycles * share).rounded()),
                                                      energyPicojoules: energy * share, batchRows: totalRows)))
            }
        } catch {
            // A batch fails as a whole only for an engine fault; run the jobs alone so that one
            // request's bad input does not fail the others batched with it.
            if live.count > 1 {
                for job in live { execute([job]) }
            } else {
                first.complete(.failure(.engine(error.description)))
            }
        }
    }
}
