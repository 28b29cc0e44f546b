#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import DLAAPI
import DLAFormat
import DLAStore

extension DaemonAPI {
    /// `GET /v1/inferences?model=&version=&since=&until=&status=&requestId=&limit=&after=`, newest first.
    func listInferences(_ request: APIRequest) async throws(APIFailure) -> APIResponse {
        var query = HistoryQuery()
        let known: Set<String> = ["model", "version", "since", "until", "status", "requestId", "limit", "after"]
        if let unknown = request.query.first(where: { !known.contains($0.0) }) {
            throw APIFailure(.badRequest, "unknown query parameter '\(unknown.0)' (known: \(known.sorted().joined(separator: ", ")))")
        }
        if let model = request.queryValue("model") {
            guard ModelName.isValid(model) else { throw APIFailure(.badRequest, ModelName.rule(model)) }
            query.model = model
        }
        if let text = request.queryValue("version") {
            guard let version = Int(text), version > 0 else { throw APIFailure(.badRequest, "version must be a positive integer, got '\(text)'") }
            guard query.model != nil else { throw APIFailure(.badRequest, "version filters one model: give model= too") }
            query.version = version
        }
        for (key, keyPath) in [("since", \HistoryQuery.since), ("until", \HistoryQuery.until)] {
            guard let text = request.queryValue(key) else { continue }
            guard let date = RFC3339.parse(text) else {
                throw APIFailure(.badRequest, "\(key) must be an RFC 3339 time (2026-12-07T06:00:00Z), Unix seconds, or an age like 90s, 15m, 1h, 7d; got '\(text)'")
            }
            query[keyPath: keyPath] = date
        }
        switch request.queryValue("status") {
        case nil: break
        case "ok": query.status = .ok
        case "error", "failed": query.status = .failed
        case let text?:
            guard let code = APIErrorCode(rawValue: text) else {
                throw APIFailure(.badRequest, "status must be ok, error or an error code (\(APIErrorCode.allCases.map(\.rawValue).joined(separator: ", "))); got '\(text)'")
            }
            query.status = .code(Int32(code.httpStatus))
        }
        if let text = request.queryValue("requestId") {
            guard !text.isEmpty, text.utf8.count <= InferenceRecord.maxRequestIDBytes else {
                throw APIFailure(.badRequest, "requestId is an X-Request-Id the daemon answered with (1…\(InferenceRecord.maxRequestIDBytes) bytes), got '\(text.prefix(40))'")
            }
            query.requestID = text
        }
        if let text = request.queryValue("limit") {
            guard let limit = Int(text), (1...HistoryQuery.maxLimit).contains(limit) else {
                throw APIFailure(.badRequest, "limit must be 1…\(HistoryQuery.maxLimit), got '\(text)'")
            }
            query.limit = limit
        }
        if let text = request.queryValue("after") {
            guard let after = Int64(text), after > 0 else { throw APIFailure(.badRequest, "after must be a cursor from a previous page's next, got '\(text)'") }
            query.after = after
        }
        let page: HistoryPage
        do {
            page = try await store.history.query(query)
        } catch {
            throw StoreFailure.map(error)
        }
        return .json(InferencePage(items: page.rows.map(Self.item), next: page.nextCursor))
    }

    func inferenceDetail(_ id: Int64) async throws(APIFailure) -> APIResponse {
        let row: InferenceRow?
        do {
            row = try await store.history.row(id: id)
        } catch {
            throw StoreFailure.map(error)
        }
        guard let row else { throw APIFailure(.notFound, "no inference with id \(id) (it may have been removed by retention)") }
        var outputs: [[Float]] = []
        if !row.record.outputs.isEmpty, let array = try? NPY.read(row.record.outputs), let rows = array.shape.first, rows > 0 {
            let values = array.asFloat32()
            let width = values.count / rows
            outputs = (0..<rows).map { Array(values[($0 * width)..<(($0 + 1) * width)]) }
        }
        return .json(InferenceDetail(item: Self.item(row), outputs: outputs))
    }

    static func item(_ row: InferenceRow) -> InferenceItem {
        let record = row.record
        let status: String
        switch record.status {
        case .ok: status = "ok"
        case .failed(let code): status = APIErrorCode.allCases.first { $0.httpStatus == Int(code) }?.rawValue ?? "error_\(code)"
        }
        return InferenceItem(
            id: row.id, time: RFC3339.format(row.recordedAt), model: record.model, version: record.version, status: status,
            batchSize: record.batchSize, latencyMicros: record.latencyMicroseconds, cycles: record.emulatedCycles,
            energyMicrojoules: record.energyPicojoules / 1_000_000,
            top1: record.top1.map { DLAAPI.TopClass(index: Int($0.classIndex), score: $0.score) },
            clientUid: record.clientUID, inputSha256: hexString(record.inputSHA256), requestId: record.requestID, error: record.error)
    }

    /// `GET /v1/stats?window=SECONDS` (default 3600): per model count, error rate and latency percentiles.
    func stats(_ request: APIRequest) async throws(APIFailure) -> APIResponse {
        var window = 3600
        if let text = request.queryValue("window") {
            guard let seconds = Int(text), (1...(366 * 86_400)).contains(seconds) else {
                throw APIFailure(.badRequest, "window is a number of seconds, 1…\(366 * 86_400); got '\(text)'")
            }
            window = seconds
        }
        var models: [ModelStats] = []
        do {
            for summary in try await store.registry.models() {
                let aggregate = try await store.history.aggregate(model: summary.name, window: .seconds(window))
                models.append(ModelStats(
                    name: summary.name, count: aggregate.count, errors: aggregate.failedCount, errorRate: aggregate.errorRate,
                    latencyP50Micros: aggregate.latencyP50Microseconds, latencyP95Micros: aggregate.latencyP95Microseconds,
                    latencyP99Micros: aggregate.latencyP99Microseconds))
            }
        } catch {
            throw StoreFailure.map(error)
        }
        return .json(StatsResponse(windowSeconds: window, models: models))
    }
}
