@testable import DLAStore
import Foundation
import Synchronization
import Testing

/// The writer's linger, made deterministic with a long wait: a row taken alone is inserted at once
/// (stamped then) and waits, in its open transaction, for as many rows as the previous group held.
@Suite struct GroupCommitTests {
    /// A store whose previous group held two rows, so that the next group lingers for two.
    static func storeExpectingPairs(_ directory: TestDirectory) async throws -> DLAStore {
        var options = StoreOptions()
        options.maxGroupWaitMicroseconds = 2_000_000
        let store = try await Fixture.storeWithModel(directory, options: options)
        // Hold the writer so that two rows queue up behind it and are taken together.
        let holding = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        async let held: Void = store.writer.perform { _ in
            holding.signal()
            release.wait()
        }
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                holding.wait()
                continuation.resume()
            }
        }
        async let first = store.history.record(Fixture.record(latency: 1))
        async let second = store.history.record(Fixture.record(latency: 2))
        try await Task.sleep(for: .milliseconds(50))
        release.signal()
        _ = try await (held, first, second)
        #expect(store.writerStatistics.rows == 2 && store.writerStatistics.groups == 1, "the held rows were not taken together")
        return store
    }

    @Test func aRowArrivingDuringTheLingerSharesTheTransaction() async throws {
        let directory = try TestDirectory()
        let store = try await Self.storeExpectingPairs(directory)
        let groupsBefore = store.writerStatistics.groups
        let secondSubmitted = Atomic<Bool>(false)
        async let early: (id: Int64, waited: Bool) = {
            let id = try await store.history.record(Fixture.record(latency: 3))
            return (id, secondSubmitted.load(ordering: .acquiring))
        }()
        try await Task.sleep(for: .milliseconds(100))
        secondSubmitted.store(true, ordering: .releasing)
        let late = try await store.history.record(Fixture.record(latency: 4))
        let first = try await early
        #expect(first.waited, "the first row was acknowledged before the second arrived: no linger")
        #expect(store.writerStatistics.groups == groupsBefore + 1, "the two rows took \(store.writerStatistics.groups - groupsBefore) commits")
        // Inserted when taken, not when the linger ended: the stamps are the submissions' 100 ms apart.
        let rows = try await store.history.query(HistoryQuery(limit: 10, order: .oldestFirst)).rows
        let stamps = Dictionary(uniqueKeysWithValues: rows.map { ($0.id, $0.recordedAt) })
        let apart = try #require(stamps[late]).timeIntervalSince(try #require(stamps[first.id]))
        #expect(apart >= 0.05, "the first row was inserted only \(apart) s before the second: after the linger")
        await store.close()
    }

    @Test func aRegistryChangeDuringTheLingerCommitsTheRowsBeforeIt() async throws {
        let directory = try TestDirectory()
        let store = try await Self.storeExpectingPairs(directory)
        async let row = store.history.record(Fixture.record(latency: 5))
        try await Task.sleep(for: .milliseconds(100))
        let seenByChange = try await store.writer.perform { connection throws(DLAStoreError) -> (Bool, Int64?) in
            (connection.isInTransaction, try connection.integer("SELECT count(*) FROM inferences"))
        }
        let id = try await row
        #expect(seenByChange.0 == false, "the change ran inside the rows' open transaction")
        #expect(seenByChange.1 == 3, "the change ran before the row it followed was committed")
        #expect(id > 0)
        await store.close()
    }
}
