import CSQLite

/// One SQLite connection, confined to a single serial queue by its owner.
///
/// A thin wrapper over the C API rather than GRDB: GRDB pulls full Foundation (about 39 MB of ICU
/// in a static binary) and the store needs only prepare/bind/step. The connection is opened in
/// multi-thread mode (`SQLITE_OPEN_NOMUTEX`): its owner guarantees one thread at a time, so
/// SQLite's per-call mutex would be pure overhead.
final class SQLiteConnection {
    let path: String
    private let handle: OpaquePointer
    private var cachedStatements: [String: SQLiteStatement] = [:]

    /// `vfs` names a registered SQLite VFS; nil is the default one.
    init(path: String, create: Bool, vfs: String? = nil) throws(DLAStoreError) {
        self.path = path
        var flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX
        if create { flags |= SQLITE_OPEN_CREATE }
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, flags, vfs)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(db)
            throw DLAStoreError(sqliteCode: rc, message: "cannot open \(path): \(message)", path: path)
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
    }

    private var isClosed = false

    deinit { close() }

    /// Finalizes the cached statements and closes; the last connection to close checkpoints the
    /// WAL into the database and removes it. The owner must not use the connection afterwards.
    func close() {
        if isClosed { return }
        isClosed = true
        cachedStatements.removeAll()
        sqlite3_close_v2(handle)
    }

    /// Runs one or more SQL statements that return no rows of interest.
    func execute(_ sql: String) throws(DLAStoreError) {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
        if rc != SQLITE_OK {
            let message = errorMessage.map { String(cString: $0) } ?? lastErrorMessage
            sqlite3_free(errorMessage)
            throw DLAStoreError(sqliteCode: rc, message: message, path: path)
        }
    }

    /// A prepared statement kept for the connection's lifetime: the writer runs the same few
    /// statements thousands of times a second, and preparing them is a measurable part of a row.
    /// Reset it once done: a statement left mid-result holds a read snapshot, and the WAL cannot
    /// be checkpointed past it.
    func cached(_ sql: String) throws(DLAStoreError) -> SQLiteStatement {
        if let statement = cachedStatements[sql] {
            statement.reset()
            return statement
        }
        let statement = try prepare(sql, persistent: true)
        cachedStatements[sql] = statement
        return statement
    }

    func prepare(_ sql: String, persistent: Bool = false) throws(DLAStoreError) -> SQLiteStatement {
        var statement: OpaquePointer?
        let flags = persistent ? UInt32(SQLITE_PREPARE_PERSISTENT) : 0
        let rc = sqlite3_prepare_v3(handle, sql, -1, flags, &statement, nil)
        guard rc == SQLITE_OK, let statement else {
            throw DLAStoreError(sqliteCode: rc, message: "\(lastErrorMessage) in: \(sql)", path: path)
        }
        return SQLiteStatement(handle: statement)
    }

    /// The rows of a statement that returns text, such as `PRAGMA integrity_check`.
    func textRows(_ sql: String) throws(DLAStoreError) -> [String] {
        let statement = try prepare(sql)
        var rows: [String] = []
        while try statement.step() {
            rows.append(statement.text(0) ?? "")
        }
        return rows
    }

    /// The first column of the first row, as an integer (pragmas, counts).
    func integer(_ sql: String) throws(DLAStoreError) -> Int64? {
        let statement = try prepare(sql)
        return try statement.step() ? statement.optionalInt64(0) : nil
    }

    var lastInsertedRowID: Int64 { sqlite3_last_insert_rowid(handle) }
    var changes: Int { Int(sqlite3_changes(handle)) }
    var lastErrorMessage: String { String(cString: sqlite3_errmsg(handle)) }
    var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    func setBusyTimeout(milliseconds: Int32) {
        sqlite3_busy_timeout(handle, milliseconds)
    }

    /// Copies the whole database into `destination` in one step, that is inside one read
    /// transaction: a consistent snapshot that, in WAL mode, never blocks writers.
    func backup(into destination: SQLiteConnection) throws(DLAStoreError) {
        guard let backup = sqlite3_backup_init(destination.handle, "main", handle, "main") else {
            throw DLAStoreError(
                sqliteCode: sqlite3_errcode(destination.handle),
                message: "backup to \(destination.path): \(destination.lastErrorMessage)", path: destination.path)
        }
        let stepCode = sqlite3_backup_step(backup, -1)
        let finishCode = sqlite3_backup_finish(backup)
        if stepCode != SQLITE_DONE {
            throw DLAStoreError(sqliteCode: stepCode, message: "backup to \(destination.path) failed", path: path)
        }
        if finishCode != SQLITE_OK {
            throw DLAStoreError(sqliteCode: finishCode, message: "backup to \(destination.path) failed", path: path)
        }
    }

    var rawHandle: OpaquePointer { handle }
}
