#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Prunes the history to `StoreOptions.retention`, oldest rows first, in small steps.
///
/// Each step is its own short write transaction queued behind the history groups already waiting,
/// so writers are delayed by at most one step. Freed pages are then returned to the file system
/// by `PRAGMA incremental_vacuum` (the database is created with `auto_vacuum=INCREMENTAL`), also
/// in steps. The daemon calls `enforce` periodically; it is safe to call at any time.
public struct Retention: Sendable {
    let store: DLAStore

    public var policy: RetentionPolicy { store.options.retention }

    @discardableResult
    public func enforce(now: Date = Date()) async throws(DLAStoreError) -> RetentionReport {
        let policy = policy
        guard policy.stepRows >= 1, policy.vacuumStepPages >= 1 else {
            throw .invalidArgument(
                "retention steps: expected at least 1 row and 1 page, found \(policy.stepRows), \(policy.vacuumStepPages)")
        }
        var report = RetentionReport()
        if let cutoff = try await cutoffID(policy: policy, now: now) {
            while try await deleteStep(upTo: cutoff, rows: policy.stepRows, report: &report) {}
        }
        if let maxBytes = policy.maxBytes {
            while try await store.size().usedBytes > maxBytes,
                try await deleteStep(upTo: Int64.max, rows: policy.stepRows, report: &report)
            {}
        }
        while true {
            let released = try await vacuumStep(pages: policy.vacuumStepPages)
            if released == 0 { break }
            report.releasedPages += released
        }
        return report
    }

    /// The highest id that `maxRows` or `maxAge` condemns, if any.
    private func cutoffID(policy: RetentionPolicy, now: Date) async throws(DLAStoreError) -> Int64? {
        try await store.readers.read { connection throws(DLAStoreError) -> Int64? in
            var cutoff: Int64?
            if let maxRows = policy.maxRows {
                // Stamps are non-decreasing in id, so the narrow time index walks rows in id order
                // at a fraction of the table's pages.
                let statement = try connection.prepare(
                    "SELECT id FROM inferences INDEXED BY inferences_by_time ORDER BY at DESC, id DESC LIMIT 1 OFFSET ?")
                try statement.bind(.integer(Int64(max(maxRows, 0))))
                if try statement.step() { cutoff = statement.int64(0) }
            }
            if let maxAge = policy.maxAge {
                let statement = try connection.prepare(
                    "SELECT id FROM inferences WHERE at < ? ORDER BY at DESC, id DESC LIMIT 1")
                try statement.bind(.integer(try microseconds(now, minus: maxAge, "retention maxAge")))
                if try statement.step() { cutoff = max(cutoff ?? .min, statement.int64(0)) }
            }
            return cutoff
        }
    }

    /// Deletes up to `rows` of the oldest rows with id ≤ `cutoff`; false once there were none.
    private func deleteStep(upTo cutoff: Int64, rows: Int, report: inout RetentionReport) async throws(DLAStoreError) -> Bool {
        let deleted = try await store.writer.transaction { connection throws(DLAStoreError) -> Int in
            try connection.cached("""
                DELETE FROM inferences WHERE id IN (SELECT id FROM inferences WHERE id <= ? ORDER BY id LIMIT ?)
                """).run(.integer(cutoff), .integer(Int64(rows)))
            return connection.changes
        }
        report.deletedRows += deleted
        if deleted > 0 { report.steps += 1 }
        return deleted > 0
    }

    /// Returns up to `pages` free pages to the file system; how many it released.
    private func vacuumStep(pages: Int) async throws(DLAStoreError) -> Int64 {
        try await store.writer.perform { connection throws(DLAStoreError) -> Int64 in
            let before = try connection.integer("PRAGMA freelist_count") ?? 0
            if before == 0 { return 0 }
            try connection.execute("PRAGMA incremental_vacuum(\(pages))")
            return before - (try connection.integer("PRAGMA freelist_count") ?? 0)
        }
    }
}
