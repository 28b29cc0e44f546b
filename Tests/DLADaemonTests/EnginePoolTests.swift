@testable import DLADaemon
import DLAEngine
import DLAFormat
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct EnginePoolTests {
    private func version() throws -> LoadedVersion {
        let bytes = try APITestBed.firmware("lenet-300-100-int8.dla")
        let compiled = try ModelAdapter.compile(try DLAFile.read(bytes))
        let profile = HardwareProfile.all.first { $0.name == compiled.targetProfile }!
        return LoadedVersion(name: "m", version: 1, executor: try Executor(model: compiled, profile: profile))
    }

    private func rows(_ start: Int, _ count: Int) throws -> EngineValue {
        let (inputs, _) = try APITestBed.samples()
        return .float32(try Tensor(shape: [count, 784], scalars: Array(inputs.asFloat32()[(start * 784)..<((start + count) * 784)])))
    }

    /// Requests queued together for one version run as one batch, and each gets exactly the
    /// rows it would have got alone.
    @Test func queuedRequestsForOneVersionRunAsOneBatchWithTheSameResults() async throws {
        let loaded = try version()
        let pool = EnginePool(cores: 1, queueCapacity: 16, maxBatchRows: 64, batchWaitMicroseconds: 0)
        let alone = try await (0..<3).asyncMap { index in
            try await pool.run(loaded, inputs: [try rows(index * 2, 2)], rows: 2, timeoutNanoseconds: 10_000_000_000)
        }
        #expect(alone.allSatisfy { $0.batchRows == 2 })

        pool.freeze(core: 0)
        async let blocker = pool.run(loaded, inputs: [try rows(10, 1)], rows: 1, timeoutNanoseconds: 10_000_000_000)
        while pool.snapshot.busy == 0 { try await Task.sleep(for: .milliseconds(2)) }
        async let a = pool.run(loaded, inputs: [try rows(0, 2)], rows: 2, timeoutNanoseconds: 10_000_000_000)
        async let b = pool.run(loaded, inputs: [try rows(2, 2)], rows: 2, timeoutNanoseconds: 10_000_000_000)
        async let c = pool.run(loaded, inputs: [try rows(4, 2)], rows: 2, timeoutNanoseconds: 10_000_000_000)
        while pool.snapshot.queued < 3 { try await Task.sleep(for: .milliseconds(2)) }
        pool.thaw(core: 0)
        let batched = try await [a, b, c]
        _ = try await blocker
        #expect(batched.allSatisfy { $0.batchRows == 6 })
        for (single, together) in zip(alone, batched) {
            #expect(single.outputs == together.outputs)
            #expect(together.cycles > 0 && together.energyPicojoules > 0)
        }
        pool.shutdown()
    }

    /// A cheap request runs on the submitting thread once its version has been measured (the
    /// first run, unmeasured, goes to a worker), gives the worker's results, and counts as a batch.
    @Test func cheapRequestsRunOnTheSubmittingThreadWhenACoreIsIdle() async throws {
        let loaded = try version()
        let pool = EnginePool(cores: 1, queueCapacity: 16, maxBatchRows: 64, batchWaitMicroseconds: 0, inlineMicroseconds: 1_000_000)
        let input = try rows(0, 1)
        func submit(mayRunHere: Bool = true) async -> (EngineJobResult, ranHere: Bool) {
            await withCheckedContinuation { continuation in
                let caller = pthread_self()
                pool.submit(loaded, inputs: [input], rows: 1, timeoutNanoseconds: 10_000_000_000, mayRunHere: mayRunHere) { outcome in
                    continuation.resume(returning: (try! outcome.get(), pthread_self() == caller))
                }
            }
        }
        let (first, firstHere) = await submit()
        #expect(!firstHere)
        let (second, secondHere) = await submit()
        #expect(secondHere)
        #expect(second.outputs == first.outputs && second.cycles == first.cycles)
        #expect(pool.snapshot.completedBatches == 2 && pool.snapshot.busy == 0)
        let (_, askedNotTo) = await submit(mayRunHere: false)
        #expect(!askedNotTo)

        // A frozen core must get its requests (fault injection), so nothing runs on the caller.
        pool.freeze(core: 0)
        async let held = submit()
        while pool.snapshot.busy == 0 { try await Task.sleep(for: .milliseconds(2)) }
        pool.thaw(core: 0)
        #expect(await held.ranHere == false)
        pool.shutdown()
    }

    @Test func nothingRunsOnTheSubmittingThreadWithInliningOff() async throws {
        let loaded = try version()
        let pool = EnginePool(cores: 1, queueCapacity: 16, maxBatchRows: 64, batchWaitMicroseconds: 0, inlineMicroseconds: 0)
        for _ in 0..<3 {
            let ranHere = await withCheckedContinuation { continuation in
                let caller = pthread_self()
                pool.submit(loaded, inputs: [try! rows(0, 1)], rows: 1, timeoutNanoseconds: 10_000_000_000, mayRunHere: true) { _ in
                    continuation.resume(returning: pthread_self() == caller)
                }
            }
            #expect(!ranHere)
        }
        pool.shutdown()
    }

    @Test func shutdownFinishesQueuedWorkThenRefusesNew() async throws {
        let loaded = try version()
        let pool = EnginePool(cores: 2, queueCapacity: 16, maxBatchRows: 8, batchWaitMicroseconds: 0)
        async let finished = pool.run(loaded, inputs: [try rows(0, 4)], rows: 4, timeoutNanoseconds: 10_000_000_000)
        while pool.snapshot.busy == 0 && pool.snapshot.completedBatches == 0 { try await Task.sleep(for: .milliseconds(1)) }
        pool.shutdown()
        #expect(try await finished.outputs.count == 1)
        await #expect(throws: EnginePoolError.stopped) {
            try await pool.run(loaded, inputs: [try rows(0, 1)], rows: 1, timeoutNanoseconds: 10_000_000_000)
        }
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
