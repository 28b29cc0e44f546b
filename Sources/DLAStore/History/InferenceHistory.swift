#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One row per inference request: written through group commit, read by filtered keyset pages.
public struct InferenceHistory: Sendable {
    let store: DLAStore

    /// Writes `record` and returns its id once the row is durable (group commit: concurrent
    /// callers share one transaction and one fsync). The store stamps the row with the time it
    /// arrived, never earlier than the previous row's, so `recordedAt` and `id` order rows alike;
    /// the request started `latencyMicroseconds` before it.
    public func record(_ record: InferenceRecord) async throws(DLAStoreError) -> Int64 {
        let result = await withCheckedContinuation { continuation in
            self.record(record) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// `record` for callers that are not async tasks (the daemon's inference path, which answers
    /// from the writer's completion to spare two thread hand-offs a request): `completion` gets
    /// the id once the row is durable, on the store's writer thread, or the error, possibly at once.
    /// Keep it short: the writer's next group waits for it.
    public func record(_ record: InferenceRecord, completion: @escaping @Sendable (Result<Int64, DLAStoreError>) -> Void) {
        do throws(DLAStoreError) {
            try HistoryInserter.validate(record)
        } catch {
            completion(.failure(error))
            return
        }
        store.writer.record(record, completion: completion)
    }

    /// The row with this id, if retention has not removed it.
    public func row(id: Int64) async throws(DLAStoreError) -> InferenceRow? {
        try await store.readers.read { connection throws(DLAStoreError) -> InferenceRow? in
            let statement = try connection.prepare("SELECT \(InferenceRow.selectColumns) FROM inferences WHERE id = ?")
            try statement.bind(.integer(id))
            guard try statement.step() else { return nil }
            return try InferenceRow(statement, modelNames: try Self.modelNames(connection))
        }
    }

    public func query(_ query: HistoryQuery) async throws(DLAStoreError) -> HistoryPage {
        if query.version != nil && query.model == nil {
            throw .invalidArgument("history query: a version filter needs a model, found none")
        }
        return try await store.readers.read { connection throws(DLAStoreError) in try Self.page(connection, query) }
    }

    /// Count, error rate and latency percentiles of `model` over `[since, until)`.
    ///
    /// Nothing here holds the window's rows: one pass counts them over the covering
    /// `inferences_by_model` index, a second reads the distinct latencies in order with their
    /// counts (`GROUP BY latency_us`, a sort SQLite bounds by its cache and spills to a temporary
    /// file beyond it) and stops once the highest percentile's rank is reached. Both read the
    /// same snapshot.
    public func aggregate(model: String, since: Date, until: Date) async throws(DLAStoreError) -> HistoryAggregate {
        try await store.readers.read { connection throws(DLAStoreError) -> HistoryAggregate in
            let modelID = try ModelRegistry.modelState(connection, model).id
            var count: Int64 = 0
            var failed: Int64 = 0
            // Nearest-rank percentiles: the ⌈p·n/100⌉-th smallest latency, for p = 50, 95, 99.
            var percentiles: [Int64?] = [nil, nil, nil]
            if let ids = try Self.idRange(connection, since: since, until: until) {
                let counts = try connection.prepare("""
                    SELECT count(*), count(*) FILTER (WHERE status <> 0) FROM inferences INDEXED BY inferences_by_model
                    WHERE model_id = ? AND id BETWEEN ? AND ?
                    """)
                try counts.bind(.integer(modelID), .integer(ids.lowerBound), .integer(ids.upperBound))
                if try counts.step() {
                    count = counts.int64(0)
                    failed = counts.int64(1)
                }
                let ranks = [Int64(50), 95, 99].map { max(($0 * count + 99) / 100, 1) }
                let latencies = try connection.prepare("""
                    SELECT latency_us, count(*) FROM inferences INDEXED BY inferences_by_model
                    WHERE model_id = ? AND id BETWEEN ? AND ? GROUP BY latency_us ORDER BY latency_us
                    """)
                try latencies.bind(.integer(modelID), .integer(ids.lowerBound), .integer(ids.upperBound))
                var seen: Int64 = 0
                var next = 0
                while count > 0, next < ranks.count, try latencies.step() {
                    seen += latencies.int64(1)
                    while next < ranks.count, seen >= ranks[next] {
                        percentiles[next] = latencies.int64(0)
                        next += 1
                    }
                }
            }
            return HistoryAggregate(
                model: model, since: since, until: until, count: Int(count), failedCount: Int(failed),
                errorRate: count == 0 ? 0 : Double(failed) / Double(count),
                latencyP50Microseconds: percentiles[0], latencyP95Microseconds: percentiles[1],
                latencyP99Microseconds: percentiles[2])
        }
    }

    /// The aggregate over the `window` that ends at `now`.
    public func aggregate(model: String, window: Duration, now: Date = Date()) async throws(DLAStoreError) -> HistoryAggregate {
        let since = Date(unixMicroseconds: try microseconds(now, minus: window, "aggregate window"))
        return try await aggregate(model: model, since: since, until: now)
    }

    // MARK: Query building

    /// Rows are stamped in id order, so a time range is an id range, found by two index probes.
    static func idRange(_ connection: SQLiteConnection, since: Date?, until: Date?) throws(DLAStoreError) -> ClosedRange<Int64>? {
        var low = Int64.min
        var high = Int64.max
        if let since {
            let statement = try connection.prepare("SELECT id FROM inferences WHERE at >= ? ORDER BY at, id LIMIT 1")
            try statement.bind(.integer(try since.unixMicroseconds("since")))
            guard try statement.step() else { return nil }
            low = statement.int64(0)
        }
        if let until {
            let statement = try connection.prepare("SELECT id FROM inferences WHERE at < ? ORDER BY at DESC, id DESC LIMIT 1")
            try statement.bind(.integer(try until.unixMicroseconds("until")))
            guard try statement.step() else { return nil }
            high = statement.int64(0)
        }
        return low <= high ? low...high : nil
    }

    static func modelNames(_ connection: SQLiteConnection) throws(DLAStoreError) -> [Int64: String] {
        let statement = try connection.prepare("SELECT id, name FROM models")
        var names: [Int64: String] = [:]
        while try statement.step() { names[statement.int64(0)] = statement.text(1) ?? "" }
        return names
    }

    /// Builds the page query with an explicit index, so that its plan never depends on statistics:
    /// a request id its partial `(request_id, id)` index, failed-only filters the small partial
    /// indexes, model filters the covering `(model_id, id, version, status, latency_us)` index,
    /// and the rest the table in id order.
    static func page(_ connection: SQLiteConnection, _ query: HistoryQuery) throws(DLAStoreError) -> HistoryPage {
        let limit = query.effectiveLimit
        guard let ids = try idRange(connection, since: query.since, until: query.until) else {
            return HistoryPage(rows: [], nextCursor: nil)
        }
        var conditions: [String] = []
        var values: [SQLiteValue] = []
        if let model = query.model {
            guard let modelID = try ModelRegistry.modelID(connection, model) else {
                return HistoryPage(rows: [], nextCursor: nil)
            }
            conditions.append("model_id = ?")
            values.append(.integer(modelID))
        }
        if let version = query.version {
            conditions.append("version = ?")
            values.append(.integer(Int64(version)))
        }
        var failedOnly = false
        switch query.status {
        case nil:
            break
        case .ok?:
            conditions.append("status = 0")
        case .failed?:
            conditions.append("status <> 0")
            failedOnly = true
        case .code(let code)?:
            conditions.append("status <> 0 AND status = ?")
            values.append(.integer(Int64(code)))
            failedOnly = true
        }
        if let requestID = query.requestID {
            guard !requestID.isEmpty else { return HistoryPage(rows: [], nextCursor: nil) }
            conditions.append("request_id <> '' AND request_id = ?")
            values.append(.text(requestID))
        }
        var low = ids.lowerBound
        var high = ids.upperBound
        if let after = query.after {
            switch query.order {
            case .newestFirst:
                guard after > Int64.min else { return HistoryPage(rows: [], nextCursor: nil) }
                high = min(high, after - 1)
            case .oldestFirst:
                guard after < Int64.max else { return HistoryPage(rows: [], nextCursor: nil) }
                low = max(low, after + 1)
            }
        }
        if low > high { return HistoryPage(rows: [], nextCursor: nil) }
        conditions.append("id BETWEEN ? AND ?")
        values.append(.integer(low))
        values.append(.integer(high))
        let index: String
        switch (query.model != nil, failedOnly) {
        case _ where query.requestID != nil: index = "INDEXED BY inferences_by_request"
        case (true, true): index = "INDEXED BY inferences_failed_by_model"
        case (false, true): index = "INDEXED BY inferences_failed"
        case (true, false): index = "INDEXED BY inferences_by_model"
        case (false, false): index = "NOT INDEXED"
        }
        let direction = query.order == .newestFirst ? "DESC" : "ASC"
        let statement = try connection.prepare("""
            SELECT \(InferenceRow.selectColumns) FROM inferences \(index)
            WHERE \(conditions.joined(separator: " AND ")) ORDER BY id \(direction) LIMIT ?
            """)
        values.append(.integer(Int64(limit + 1)))
        try statement.bind(values)
        let names = try modelNames(connection)
        var rows: [InferenceRow] = []
        while try statement.step() { rows.append(try InferenceRow(statement, modelNames: names)) }
        var nextCursor: Int64?
        if rows.count > limit {
            rows.removeLast()
            nextCursor = rows.last?.id
        }
        return HistoryPage(rows: rows, nextCursor: nextCursor)
    }
}
