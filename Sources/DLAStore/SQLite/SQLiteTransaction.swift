import CSQLite

extension SQLiteConnection {
    /// Runs `body` inside `BEGIN IMMEDIATE … COMMIT`, rolling back on any error.
    ///
    /// `IMMEDIATE` takes the write lock up front, so a competing writer (another process, a
    /// `sqlite3` shell) shows up as `SQLITE_BUSY` here, before any work, where it is safe to retry:
    /// the busy handler waits `busyTimeout` per attempt, and at most `busyRetries` attempts are made.
    func transaction<T>(
        busyRetries: Int, _ body: () throws(DLAStoreError) -> T
    ) throws(DLAStoreError) -> T {
        try begin(busyRetries: busyRetries)
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            rollbackIfNeeded()
            throw error
        }
    }

    func begin(busyRetries: Int) throws(DLAStoreError) {
        var attempt = 1
        while true {
            do {
                try execute("BEGIN IMMEDIATE")
                return
            } catch .busy(_, let detail) {
                if attempt >= busyRetries { throw .busy(attempts: attempt, detail: detail) }
                attempt += 1
            }
        }
    }

    /// SQLite rolls some failures back by itself (`SQLITE_FULL` may); only roll back what is open.
    func rollbackIfNeeded() {
        if isInTransaction { try? execute("ROLLBACK") }
    }
}
