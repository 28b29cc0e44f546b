import CSQLite
import CWALWriteBuffer

/// Opens the write connection: checks that the file is a healthy dlad database of a schema this
/// build understands, sets it up, and migrates it forward. Never recreates or repairs anything.
enum DatabaseOpener {
    static func openWriter(path: String, options: StoreOptions) throws(DLAStoreError) -> SQLiteConnection {
        let connection = try SQLiteConnection(path: path, create: true, vfs: try vfs(options))
        connection.setBusyTimeout(milliseconds: options.busyTimeoutMilliseconds)
        let pageCount = try corruptionNamingPath(path) { () throws(DLAStoreError) in
            try connection.integer("PRAGMA page_count") ?? 0
        }
        if pageCount > 0 {
            let check = try corruptionNamingPath(path) { () throws(DLAStoreError) in
                try connection.textRows("PRAGMA \(options.startupCheckPragma)")
            }
            guard check == ["ok"] else { throw .corrupt(path: path, integrityCheck: check) }
        }
        let applicationID = Int32(truncatingIfNeeded: try connection.integer("PRAGMA application_id") ?? 0)
        let schemaVersion = Int(try connection.integer("PRAGMA user_version") ?? 0)
        let objectCount = try connection.integer("SELECT count(*) FROM sqlite_schema") ?? 0
        let isFresh = applicationID == 0 && schemaVersion == 0 && objectCount == 0
        if !isFresh && applicationID != DatabaseIdentity.applicationID {
            throw .notADladDatabase(path: path, applicationID: applicationID)
        }
        if schemaVersion > Schema.currentVersion {
            throw .newerSchema(path: path, found: schemaVersion, supported: Schema.currentVersion)
        }
        if isFresh {
            // Only takes effect before the first table exists: retention relies on it to give
            // freed pages back to the file system.
            try connection.execute("PRAGMA auto_vacuum = INCREMENTAL")
        }
        try configure(connection, options: options)
        try Schema.migrate(connection, busyRetries: options.busyRetries)
        return connection
    }

    static func configure(_ connection: SQLiteConnection, options: StoreOptions) throws(DLAStoreError) {
        let mode = try connection.textRows("PRAGMA journal_mode = WAL")
        guard mode == ["wal"] else {
            throw .invalidArgument("journal mode: expected wal, found \(mode.joined())")
        }
        try connection.execute("""
            PRAGMA synchronous = \(options.synchronousPragma);
            PRAGMA foreign_keys = ON;
            PRAGMA journal_size_limit = \(options.walSizeLimitBytes);
            """)
        if let limit = options.hardSizeLimitBytes {
            let pageSize = try connection.integer("PRAGMA page_size") ?? 4096
            try connection.execute("PRAGMA max_page_count = \(max(1, limit / pageSize))")
        }
    }

    static func openReader(path: String, options: StoreOptions) throws(DLAStoreError) -> SQLiteConnection {
        let connection = try SQLiteConnection(path: path, create: false, vfs: try vfs(options))
        connection.setBusyTimeout(milliseconds: options.busyTimeoutMilliseconds)
        try connection.execute("PRAGMA query_only = ON")
        return connection
    }

    /// The VFS the connections open through: `options.vfsName`, wrapped in the WAL write buffer
    /// unless that is turned off.
    static func vfs(_ options: StoreOptions) throws(DLAStoreError) -> String? {
        guard options.gathersWALWrites else { return options.vfsName }
        let name = "dlad-walbuffer" + (options.vfsName.map { "-" + $0 } ?? "")
        let rc = walbuffer_register(options.vfsName, name)
        guard rc == SQLITE_OK else {
            throw .invalidArgument("cannot register the WAL write buffer over the VFS \(options.vfsName ?? "default"): SQLite result \(rc)")
        }
        return name
    }

    /// Gives corruption found while opening the path of the file, for the operator.
    private static func corruptionNamingPath<T>(
        _ path: String, _ body: () throws(DLAStoreError) -> T
    ) throws(DLAStoreError) -> T {
        do {
            return try body()
        } catch .corrupt(_, let check) {
            throw .corrupt(path: path, integrityCheck: check)
        }
    }
}
