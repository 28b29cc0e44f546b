extension DLAStore {
    /// Takes the write lock in an empty transaction on the writer queue: proves that the writer
    /// answers (it is not stuck behind a hung fsync) and that no other process holds the
    /// database. The daemon's watchdog asks this before every ping.
    public func probeWritable() async throws(DLAStoreError) {
        try await writer.transaction { _ throws(DLAStoreError) in }
    }
}
