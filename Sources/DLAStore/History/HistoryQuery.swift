#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A filtered page of history. Every filter is optional; pages are walked with `after`.
public struct HistoryQuery: Sendable, Equatable {
    public enum Order: Sendable, Equatable {
        case newestFirst
        case oldestFirst
    }

    public enum StatusFilter: Sendable, Equatable {
        case ok
        case failed
        case code(Int32)
    }

    /// The largest page served; a larger `limit` is capped to it.
    public static let maxLimit = 1000

    public var model: String?
    /// Needs `model`: version numbers are per model.
    public var version: Int?
    /// Inclusive lower bound on `recordedAt`.
    public var since: Date?
    /// Exclusive upper bound on `recordedAt`.
    public var until: Date?
    public var status: StatusFilter?
    /// Only the row of this request (the daemon's `X-Request-Id`).
    public var requestID: String?
    /// The keyset cursor: the `nextCursor` of the previous page (an id), exclusive.
    public var after: Int64?
    /// Rows per page, clamped to `1...maxLimit`.
    public var limit: Int
    public var order: Order

    public init(
        model: String? = nil, version: Int? = nil, since: Date? = nil, until: Date? = nil,
        status: StatusFilter? = nil, requestID: String? = nil, after: Int64? = nil, limit: Int = 100,
        order: Order = .newestFirst
    ) {
        self.model = model
        self.version = version
        self.since = since
        self.until = until
        self.status = status
        self.requestID = requestID
        self.after = after
        self.limit = limit
        self.order = order
    }

    var effectiveLimit: Int { min(max(limit, 1), Self.maxLimit) }
}

/// One page of history and the cursor of the next one.
public struct HistoryPage: Sendable, Equatable {
    public var rows: [InferenceRow]
    /// Pass as `HistoryQuery.after` for the next page; nil when this page is the last.
    public var nextCursor: Int64?
}

/// Counts and latency percentiles of one model over a time window.
public struct HistoryAggregate: Sendable, Equatable {
    public var model: String
    public var since: Date
    public var until: Date
    public var count: Int
    public var failedCount: Int
    /// `failedCount / count`, 0 when there were no requests.
    public var errorRate: Double
    /// Nearest-rank percentiles of the latency of every request in the window, nil when empty.
    public var latencyP50Microseconds: Int64?
    public var latencyP95Microseconds: Int64?
    public var latencyP99Microseconds: Int64?
}
