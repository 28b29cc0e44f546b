@testable import DLAStore
import Foundation
import Synchronization
import Testing

/// The writer's linger, made deterministic with a long wait: a row taken alone is inserted at once
/// (stamped then) and waits, in its open transaction, for as many rows as the previous group held.
/// Rows are submitted with the completion API, so each is queued when the call returns, however
/// busy the machine.
@Suite struct GroupCommitTests {
    /// A row submitted with the completion API: queued when `submit` returns.
    final class Submitted: Sendable {
        let outcome = Mutex<Result<Int64, DLAStoreError>?>(nil)
        let done = DispatchSemaphore(value: 0)

        var isAcknowledged: Bool { outcome.withLock { $0 != nil } }

        var id: Int64 {
            get async throws {
                let done = self.done
                await withCheckedContinuation { continuation in
                    DispatchQueue.global().async {
                        done.wait()
                        done.signal()
                        continuation.resume()
                    }
                }
                return try outcome.withLock { $0! }.get()
            }
        }
    }

    static func submit(_ store: DLAStore, _ record: InferenceRecord) -> Submitted {
        let submitted = Submitted()
        store.history.record(record) { result in
            submitted.outcome.withLock { $0 = result }
            submitted.done.signal()
        }
        return submitted
    }

    /// Waits (at most 10 s) until the writer has taken every submitted job.
    static func waitUntilTaken(_ store: DLAStore) async throws {
        for _ in 0..<10_000 where store.writer.pendingCount > 0 {
            try await Task.sleep(for: .milliseconds(1))
        }
        #expect(store.writer.pendingCount == 0, "the writer did not take the submitted rows")
    }

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
        let first = submit(store, Fixture.record(latency: 1))
        let second = submit(store, Fixture.record(latency: 2))
        release.signal()
        _ = try await (held, first.id, second.id)
        #expect(store.writerStatistics.rows == 2 && store.writerStatistics.groups == 1, "the held rows were not taken together")
        return store
    }

    @Test func aRowArrivingDuringTheLingerSharesTheTransaction() async throws {
        let directory = try TestDirectory()
        let store = try await Self.storeExpectingPairs(directory)
        let groupsBefore = store.writerStatistics.groups
        let early = Self.submit(store, Fixture.record(latency: 3))
        try await Self.waitUntilTaken(store)
        #expect(!early.isAcknowledged, "the first row was acknowledged before the second arrived: no linger")
        let secondSubmittedAt = Date()
        let late = try await Self.submit(store, Fixture.record(latency: 4)).id
        let first = try await early.id
        #expect(store.writerStatistics.groups == groupsBefore + 1, "the two rows took \(store.writerStatistics.groups - groupsBefore) commits")
        // Inserted when taken, not when the linger ended: stamped before the second row was sent.
        let rows = try await store.history.query(HistoryQuery(limit: 10, order: .oldestFirst)).rows
        let stamps = Dictionary(uniqueKeysWithValues: rows.map { ($0.id, $0.recordedAt) })
        let firstStamp = try #require(stamps[first])
        #expect(firstStamp < secondSubmittedAt, "the first row was stamped \(firstStamp.timeIntervalSince(secondSubmittedAt)) s after the second was sent: inserted after the linger")
        #expect(try #require(stamps[late]) >= secondSubmittedAt)
        await store.close()
    }

    @Test func aRegistryChangeDuringTheLingerCommitsTheRowsBeforeIt() async throws {
        let directory = try TestDirectory()
        let store = try await Self.storeExpectingPairs(directory)
        let row = Self.submit(store, Fixture.record(latency: 5))
        try await Self.waitUntilTaken(store)
        let seenByChange = try await store.writer.perform { connection throws(DLAStoreError) -> (Bool, Int64?) in
            (connection.isInTransaction, try connection.integer("SELECT count(*) FROM inferences"))
        }
        let id = try await row.id
        #expect(seenByChange.0 == false, "the change ran inside the rows' open transaction")
        #expect(seenByChange.1 == 3, "the change ran before the row it followed was committed")
        #expect(id > 0)
        await store.close()
    }
}
