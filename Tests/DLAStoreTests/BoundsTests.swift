import Dispatch
import Foundation
import Testing
@testable import DLAStore

/// Bounded resources against clients (issue 14): a full write queue refuses at once, dates and
/// durations out of Int64's range are errors rather than traps, and percentiles come from SQL.
@Suite struct BoundsTests {
    /// Holds the writer in an exclusive job until `release` is called; returns once it runs, so
    /// that the queue is empty behind it.
    static func blockWriter(_ store: DLAStore) async -> DispatchSemaphore {
        let started = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        Task { try await store.writer.perform { _ in
            started.signal()
            release.wait()
        } }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                started.wait()
                continuation.resume()
            }
        }
        return release
    }

    @Test func fullWriteQueueRefusesAtOnceAndKeepsWhatItAccepted() async throws {
        let directory = try TestDirectory()
        var options = StoreOptions()
        options.maxPendingWrites = 2
        let store = try await Fixture.storeWithModel(directory, options: options)
        let release = await Self.blockWriter(store)
        // Without a bound nothing is refused and nothing releases the writer: fail, not hang.
        let timeout = Task {
            try await Task.sleep(for: .seconds(30))
            release.signal()
        }
        // Three writes behind the blocked writer: two wait, the one that finds them there is
        // refused at once; it then tries a registry change (refused too) and releases the writer.
        let outcomes = (1...3).map { latency in
            Task { () -> (record: Result<Int64, DLAStoreError>, registry: DLAStoreError?) in
                do throws(DLAStoreError) {
                    return (.success(try await store.history.record(Fixture.record(latency: Int64(latency)))), nil)
                } catch {
                    var registryError: DLAStoreError?
                    do throws(DLAStoreError) {
                        _ = try await store.registry.activate(model: "lenet", version: 1, by: 0)
                    } catch {
                        registryError = error
                    }
                    release.signal()
                    return (.failure(error), registryError)
                }
            }
        }
        var accepted: [Int64] = []
        var refusals: [DLAStoreError] = []
        for outcome in outcomes {
            let value = await outcome.value
            switch value.record {
            case .success(let id): accepted.append(id)
            case .failure(let error):
                refusals.append(error)
                #expect(value.registry == .queueFull(limit: 2))
            }
        }
        timeout.cancel()
        #expect(refusals == [.queueFull(limit: 2)])
        #expect(refusals.first.map { "\($0)".contains("maxPendingWrites") } == true)
        #expect(accepted.count == 2)
        let rows = try await store.history.query(HistoryQuery(order: .oldestFirst)).rows
        #expect(rows.map(\.id) == accepted.sorted())
        // Once drained, writes are accepted again.
        #expect(try await store.history.record(Fixture.record(latency: 4)) > (accepted.max() ?? 0))
        await store.close()
    }

    @Test func datesAndDurationsOutOfRangeAreErrorsNotTraps() async throws {
        let directory = try TestDirectory()
        let store = try await Fixture.storeWithModel(directory)
        _ = try await store.history.record(Fixture.record())
        for date in [Date(timeIntervalSince1970: .nan), Date(timeIntervalSince1970: .infinity), Date(timeIntervalSince1970: -1e300),
                     Date(timeIntervalSince1970: 1e13)] {
            await #expect(throws: DLAStoreError.self, "\(date.timeIntervalSince1970)") {
                try await store.history.query(HistoryQuery(since: date))
            }
            await #expect(throws: DLAStoreError.self, "\(date.timeIntervalSince1970)") {
                try await store.history.aggregate(model: "lenet", since: Date(timeIntervalSince1970: 0), until: date)
            }
            await #expect(throws: DLAStoreError.self, "\(date.timeIntervalSince1970)") {
                try await store.history.aggregate(model: "lenet", window: .seconds(1), now: date)
            }
        }
        await #expect(throws: DLAStoreError.self) {
            try await store.history.aggregate(model: "lenet", window: .seconds(Int64.max))
        }
        await #expect(throws: DLAStoreError.self) {
            try await store.history.aggregate(model: "lenet", window: .seconds(-9_300_000_000_000))
        }
        // A window of a thousand years is a valid question: everything.
        #expect(try await store.history.aggregate(model: "lenet", window: .seconds(1000 * 365 * 86_400)).count == 1)
        await store.close()

        var options = StoreOptions()
        options.retention = RetentionPolicy(maxAge: .seconds(Int64.max))
        let retained = try await DLAStore.open(path: directory.file("dlad.sqlite"), options: options)
        await #expect(throws: DLAStoreError.self) { try await retained.retention.enforce() }
        await retained.close()
    }

    /// A NaN energy would be stored as NULL and fail the NOT NULL column, and with it the
    /// transaction of every row in its group; it is refused before it is queued.
    @Test func nonFiniteEnergyIsRefusedAloneNotWithItsGroup() async throws {
        let directory = try TestDirectory()
        let store = try await Fixture.storeWithModel(directory)
        // Both writes wait behind the blocked writer, so they would share one group.
        let release = await Self.blockWriter(store)
        let good = Task { try await store.history.record(Fixture.record(latency: 7)) }
        var poisoned = Fixture.record()
        poisoned.energyPicojoules = .nan
        let bad = Task { try await store.history.record(poisoned) }
        try await Task.sleep(for: .milliseconds(200))
        release.signal()
        await #expect(throws: DLAStoreError.self) { try await bad.value }
        #expect(try await good.value >= 1)
        #expect(try await store.history.query(HistoryQuery()).rows.map(\.record.latencyMicroseconds) == [7])
        for energy in [Double.infinity, -1] {
            var record = Fixture.record()
            record.energyPicojoules = energy
            await #expect(throws: DLAStoreError.self, "\(energy)") { try await store.history.record(record) }
        }
        await store.close()
    }

    @Test func conversionsAtTheEdgesOfInt64() throws {
        #expect(try Date(unixMicroseconds: 1_700_000_000_123_456).unixMicroseconds("t") == 1_700_000_000_123_456)
        #expect(try Date(timeIntervalSince1970: -1).unixMicroseconds("t") == -1_000_000)
        #expect(throws: DLAStoreError.self) { try Date(timeIntervalSince1970: 9.3e12).unixMicroseconds("t") }
        #expect(try Duration.seconds(3).microseconds("d") == 3_000_000)
        #expect(try Duration.microseconds(-5).microseconds("d") == -5)
        #expect(throws: DLAStoreError.self) { try Duration.seconds(Int64.max / 1000).microseconds("d") }
    }

    /// Percentiles from SQL equal the nearest-rank ones of the sorted latencies, at sizes where
    /// the rank sits at either end.
    @Test(arguments: [1, 2, 3, 7, 100, 257])
    func percentilesMatchNearestRankOfTheSortedLatencies(_ count: Int) async throws {
        let directory = try TestDirectory()
        let store = try await Fixture.storeWithModel(directory)
        var generator = SystemRandomNumberGenerator()
        var latencies: [Int64] = []
        for _ in 0..<count {
            let latency = Int64.random(in: 0...5_000, using: &generator)
            latencies.append(latency)
            _ = try await store.history.record(Fixture.record(latency: latency))
        }
        let sorted = latencies.sorted()
        func rank(_ p: Int) -> Int64 { sorted[max((p * count + 99) / 100, 1) - 1] }
        let aggregate = try await store.history.aggregate(model: "lenet", window: .seconds(3600))
        #expect(aggregate.count == count)
        #expect(aggregate.latencyP50Microseconds == rank(50), "\(sorted)")
        #expect(aggregate.latencyP95Microseconds == rank(95), "\(sorted)")
        #expect(aggregate.latencyP99Microseconds == rank(99), "\(sorted)")
        await store.close()
    }
}
