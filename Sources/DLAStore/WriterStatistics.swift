import Synchronization

/// Counters of the group commit, for the daemon's metrics: `rows / groups` is the number of rows
/// that one transaction (one fsync under `synchronous=FULL`) made durable on average.
public final class WriterStatistics: Sendable {
    private let groupCount = Atomic<Int>(0)
    private let rowCount = Atomic<Int>(0)

    /// History transactions committed.
    public var groups: Int { groupCount.load(ordering: .relaxed) }
    /// History rows committed in them.
    public var rows: Int { rowCount.load(ordering: .relaxed) }

    func groupCommitted(rows: Int) {
        groupCount.add(1, ordering: .relaxed)
        rowCount.add(rows, ordering: .relaxed)
    }
}
