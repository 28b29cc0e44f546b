/// Bounds on the history. Any bound left nil is not enforced; the registry is never pruned.
public struct RetentionPolicy: Sendable, Equatable {
    /// Keep at most this many history rows (the newest).
    public var maxRows: Int?
    /// Drop rows recorded longer ago than this.
    public var maxAge: Duration?
    /// Delete the oldest rows until the pages holding data fit in this many bytes.
    public var maxBytes: Int64?
    /// Rows deleted per transaction: each step holds the write lock only for a few milliseconds,
    /// and history groups are committed between steps.
    public var stepRows: Int = 500
    /// Free pages handed back to the file system per incremental-vacuum step.
    public var vacuumStepPages: Int = 512

    public init(maxRows: Int? = nil, maxAge: Duration? = nil, maxBytes: Int64? = nil) {
        self.maxRows = maxRows
        self.maxAge = maxAge
        self.maxBytes = maxBytes
    }
}

/// What one `Retention.enforce` pass did.
public struct RetentionReport: Sendable, Equatable {
    public var deletedRows: Int = 0
    /// Write transactions used to delete them.
    public var steps: Int = 0
    /// Pages given back to the file system by incremental vacuum.
    public var releasedPages: Int64 = 0
}
