@testable import DLAStore
import Foundation
import Testing

@Suite struct RetentionTests {
    static func options(_ policy: RetentionPolicy, stepRows: Int = 7) -> StoreOptions {
        var options = StoreOptions()
        options.retention = policy
        options.retention.stepRows = stepRows
        return options
    }

    static func allIDs(_ store: DLAStore) async throws -> [Int64] {
        try await store.history.query(HistoryQuery(limit: HistoryQuery.maxLimit, order: .oldestFirst)).rows.map(\.id)
    }

    @Test func maxRowsKeepsTheNewestInSmallSteps() async throws {
        let directory = try TestDirectory()
        let store = try await Fixture.storeWithModel(directory, options: Self.options(RetentionPolicy(maxRows: 50)))
        var ids: [Int64] = []
        for _ in 0..<120 { ids.append(try await store.history.record(Fixture.record())) }
        let report = try await store.retention.enforce()
        #expect(report.deletedRows == 70 && report.steps == 10)
        #expect(try await Self.allIDs(store) == Array(ids.suffix(50)))
        #expect(try await store.retention.enforce().deletedRows == 0)
    }

    @Test func maxAgeDropsRowsRecordedBeforeTheCutoff() async throws {
        let directory = try TestDirectory()
        let store = try await Fixture.storeWithModel(directory, options: Self.options(RetentionPolicy(maxAge: .seconds(60))))
        for _ in 0..<20 { _ = try await store.history.record(Fixture.record()) }
        let rows = try await store.history.query(HistoryQuery(order: .oldestFirst)).rows
        try await store.retention.enforce(now: rows[5].recordedAt.addingTimeInterval(60))
        #expect(try await Self.allIDs(store) == rows.filter { $0.recordedAt >= rows[5].recordedAt }.map(\.id))
    }

    @Test func maxBytesPrunesOldestAndGivesPagesBackToTheFileSystem() async throws {
        let directory = try TestDirectory()
        let store = try await Fixture.storeWithModel(
            directory, options: Self.options(RetentionPolicy(maxBytes: 400 * 1024), stepRows: 20))
        var big = Fixture.record()
        big.outputs = [UInt8](repeating: 0x11, count: 4000)
        var ids: [Int64] = []
        for _ in 0..<300 { ids.append(try await store.history.record(big)) }
        let before = try await store.size()
        let report = try await store.retention.enforce()
        let after = try await store.size()
        #expect(before.usedBytes > 1_000_000)
        #expect(after.usedBytes <= 400 * 1024 && after.freePages == 0)
        #expect(report.releasedPages > 0 && after.pageCount < before.pageCount)
        let kept = try await Self.allIDs(store)
        #expect(!kept.isEmpty && kept == Array(ids.suffix(kept.count)))
        #expect(try await store.integrityCheck() == ["ok"])
    }
}
