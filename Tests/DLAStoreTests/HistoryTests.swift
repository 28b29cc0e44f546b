@testable import DLAStore
import Foundation
import Testing

@Suite struct HistoryTests {
    @Test func recordRoundTripsEveryColumn() async throws {
        let directory = try TestDirectory()
        var options = StoreOptions()
        options.storeInputs = true
        let store = try await Fixture.storeWithModel(directory, options: options)
        let before = Date()
        let id = try await store.history.record(Fixture.record())
        let row = try #require(try await store.history.row(id: id))
        #expect(row.record == Fixture.record())
        #expect(row.recordedAt.timeIntervalSince(before) > -0.001 && row.recordedAt.timeIntervalSinceNow < 1)
    }

    @Test func aRequestIdFindsItsRowAndFailuresKeepTheirMessage() async throws {
        let directory = try TestDirectory()
        let store = try await Fixture.storeWithModel(directory)
        let ok = try await store.history.record(Fixture.record(latency: 1))
        let failed = try await store.history.record(Fixture.record(status: .failed(code: 400), latency: 2))
        _ = try await store.history.record(Fixture.record(latency: 3))
        let found = try await store.history.query(HistoryQuery(requestID: "r2-lenet")).rows
        #expect(found.map(\.id) == [failed] && found[0].record.error == "the engine refused: “x”, 3")
        #expect(try await store.history.query(HistoryQuery(model: "lenet", requestID: "r1-lenet")).rows.map(\.id) == [ok])
        #expect(try await store.history.query(HistoryQuery(status: .failed, requestID: "r1-lenet")).rows.isEmpty)
        #expect(try await store.history.query(HistoryQuery(requestID: "nope")).rows.isEmpty)
        #expect(try await store.history.query(HistoryQuery(requestID: "")).rows.isEmpty)
        #expect(try await store.history.row(id: ok)?.record.error == nil)

        var longID = Fixture.record()
        longID.requestID = String(repeating: "r", count: InferenceRecord.maxRequestIDBytes + 1)
        await #expect(throws: DLAStoreError.self) { try await store.history.record(longID) }
        var okWithError = Fixture.record()
        okWithError.error = "no"
        await #expect(throws: DLAStoreError.self) { try await store.history.record(okWithError) }
        var longError = Fixture.record(status: .failed(code: 500))
        longError.error = String(repeating: "e", count: InferenceRecord.maxErrorBytes + 1)
        await #expect(throws: DLAStoreError.self) { try await store.history.record(longError) }
    }

    @Test func inputsAreDroppedUnlessConfigured() async throws {
        let directory = try TestDirectory()
        let store = try await Fixture.storeWithModel(directory)
        let id = try await store.history.record(Fixture.record())
        #expect(try await store.history.row(id: id)?.record.input == nil)
    }

    @Test func invalidRecordsFailAloneWithTypedErrors() async throws {
        let directory = try TestDirectory()
        let store = try await Fixture.storeWithModel(directory)
        var unknown = Fixture.record()
        unknown.model = "nope"
        var badTop1 = Fixture.record()
        badTop1.top1 = []
        async let good = store.history.record(Fixture.record())
        await #expect(throws: DLAStoreError.modelNotFound(model: "nope")) { try await store.history.record(unknown) }
        await #expect(throws: DLAStoreError.self) { try await store.history.record(badTop1) }
        #expect(try await good > 0)
    }

    @Test func concurrentRecordsGetDistinctIncreasingIds() async throws {
        let directory = try TestDirectory()
        let store = try await Fixture.storeWithModel(directory)
        let ids = try await withThrowingTaskGroup(of: Int64.self) { group in
            for index in 0..<200 {
                group.addTask { try await store.history.record(Fixture.record(latency: Int64(index))) }
            }
            return try await group.reduce(into: [Int64]()) { $0.append($1) }
        }
        #expect(Set(ids).count == 200)
        // Group commit: the 200 concurrent rows shared transactions.
        #expect(store.writerStatistics.rows == 200 && store.writerStatistics.groups < 100)
        let page = try await store.history.query(HistoryQuery(limit: 1000, order: .oldestFirst))
        #expect(page.rows.map(\.id) == ids.sorted())
        #expect(zip(page.rows, page.rows.dropFirst()).allSatisfy { $0.recordedAt <= $1.recordedAt })
    }

    @Test func writeAheadLogIsCheckpointedIntoTheDatabaseWhileWriting() async throws {
        let directory = try TestDirectory()
        var options = StoreOptions()
        options.durability = .normal
        let store = try await Fixture.storeWithModel(directory, options: options)
        var record = Fixture.record()
        record.outputs = [UInt8](repeating: 0x42, count: 3000)
        let big = record
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask { for _ in 0..<250 { _ = try await store.history.record(big) } }
            }
            try await group.waitForAll()
        }
        // 2,000 rows of 3 KB are far more than the 1,000-page auto-checkpoint: they must have
        // reached the database file itself while the store is still open.
        let attributes = try FileManager.default.attributesOfItem(atPath: directory.file("dlad.sqlite"))
        #expect((attributes[.size] as? Int ?? 0) > 4_000_000)
    }

    @Test func keysetPagesFilterAndCoverEveryMatchingRowOnce() async throws {
        let directory = try TestDirectory()
        let store = try await Fixture.storeWithModel(directory)
        _ = try await store.registry.push(
            model: "lenet", bytes: [7], sha256: Fixture.sha(2), precision: "int8", profile: "nv_small", pushedBy: 0)
        _ = try await store.registry.push(
            model: "alexnet", bytes: [7], sha256: Fixture.sha(3), precision: "int8", profile: "nv_small", pushedBy: 0)
        var expected: [Int64: InferenceRecord] = [:]
        for index in 0..<157 {
            let record = Fixture.record(
                model: index % 3 == 0 ? "alexnet" : "lenet", version: index % 2 + 1,
                status: index % 5 == 0 ? .failed(code: Int32(index % 10 == 0 ? 500 : 400)) : .ok,
                latency: Int64(index))
            var stored = record
            stored.input = nil
            expected[try await store.history.record(record)] = stored
        }
        let cases: [(HistoryQuery, (InferenceRecord) -> Bool)] = [
            (HistoryQuery(), { _ in true }),
            (HistoryQuery(model: "lenet"), { $0.model == "lenet" }),
            (HistoryQuery(model: "lenet", version: 2), { $0.model == "lenet" && $0.version == 2 }),
            (HistoryQuery(status: .failed), { $0.status != .ok }),
            (HistoryQuery(model: "alexnet", status: .failed), { $0.model == "alexnet" && $0.status != .ok }),
            (HistoryQuery(model: "lenet", status: .code(500)), { $0.model == "lenet" && $0.status == .failed(code: 500) }),
            (HistoryQuery(status: .ok), { $0.status == .ok }),
            (HistoryQuery(model: "lenet", version: 1, status: .ok), { $0.model == "lenet" && $0.version == 1 && $0.status == .ok }),
        ]
        for (base, matches) in cases {
            for order in [HistoryQuery.Order.newestFirst, .oldestFirst] {
                var query = base
                query.limit = 7
                query.order = order
                var seen: [Int64] = []
                while true {
                    let page = try await store.history.query(query)
                    #expect(page.rows.count <= 7)
                    seen += page.rows.map(\.id)
                    for row in page.rows { #expect(expected[row.id] == row.record) }
                    guard let cursor = page.nextCursor else { break }
                    query.after = cursor
                }
                let want = expected.filter { matches($0.value) }.keys.sorted()
                #expect(seen == (order == .oldestFirst ? want : want.reversed()), "\(base)")
            }
        }
    }

    @Test func timeRangesAndLimitCap() async throws {
        let directory = try TestDirectory()
        let store = try await Fixture.storeWithModel(directory)
        var ids: [Int64] = []
        for _ in 0..<30 { ids.append(try await store.history.record(Fixture.record())) }
        let rows = try await store.history.query(HistoryQuery(limit: 100, order: .oldestFirst)).rows
        let since = rows[10].recordedAt
        let until = rows[20].recordedAt
        let inRange = try await store.history.query(HistoryQuery(since: since, until: until, limit: 100, order: .oldestFirst))
        let want = rows.filter { $0.recordedAt >= since && $0.recordedAt < until }.map(\.id)
        #expect(!want.isEmpty && inRange.rows.map(\.id) == want)
        let future = try await store.history.query(HistoryQuery(since: Date().addingTimeInterval(3600)))
        #expect(future.rows.isEmpty && future.nextCursor == nil)
        let capped = try await store.history.query(HistoryQuery(limit: 1_000_000))
        #expect(capped.rows.count == 30)
        await #expect(throws: DLAStoreError.self) { try await store.history.query(HistoryQuery(version: 1)) }
        #expect(try await store.history.query(HistoryQuery(after: .min)).rows.isEmpty)
        #expect(try await store.history.query(HistoryQuery(after: .max, order: .oldestFirst)).rows.isEmpty)
    }

    @Test func pageSizeIsCappedAtMaxLimit() async throws {
        let directory = try TestDirectory()
        var options = StoreOptions()
        options.durability = .normal
        let store = try await Fixture.storeWithModel(directory, options: options)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<16 {
                group.addTask { for _ in 0..<63 { _ = try await store.history.record(Fixture.record()) } }
            }
            try await group.waitForAll()
        }
        let first = try await store.history.query(HistoryQuery(limit: 5000))
        #expect(first.rows.count == HistoryQuery.maxLimit && first.nextCursor == first.rows.last?.id)
        let rest = try await store.history.query(HistoryQuery(after: first.nextCursor, limit: 5000))
        #expect(rest.rows.count == 16 * 63 - HistoryQuery.maxLimit && rest.nextCursor == nil)
        #expect(try await store.history.query(HistoryQuery(limit: 0)).rows.count == 1)
    }

    @Test func aggregatesCountErrorsAndNearestRankPercentiles() async throws {
        let directory = try TestDirectory()
        let store = try await Fixture.storeWithModel(directory)
        _ = try await store.registry.push(
            model: "other", bytes: [7], sha256: Fixture.sha(3), precision: "int8", profile: "nv_small", pushedBy: 0)
        for latency in Int64(1)...200 {
            let status: InferenceStatus = latency % 10 == 0 ? .failed(code: 503) : .ok
            _ = try await store.history.record(Fixture.record(status: status, latency: latency))
            _ = try await store.history.record(Fixture.record(model: "other", latency: 100_000))
        }
        let aggregate = try await store.history.aggregate(model: "lenet", window: .seconds(3600))
        #expect(aggregate.count == 200 && aggregate.failedCount == 20 && aggregate.errorRate == 0.1)
        #expect(aggregate.latencyP50Microseconds == 100)
        #expect(aggregate.latencyP95Microseconds == 190)
        #expect(aggregate.latencyP99Microseconds == 198)
        let empty = try await store.history.aggregate(model: "lenet", window: .seconds(3600), now: Date().addingTimeInterval(-7200))
        #expect(empty.count == 0 && empty.errorRate == 0 && empty.latencyP50Microseconds == nil)
    }
}
