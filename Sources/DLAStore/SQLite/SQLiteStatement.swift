import CSQLite

/// SQLite copies bound values when given this destructor, so Swift buffers may die right after.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// A prepared statement. Parameter and column indexes follow SQLite: parameters from 1, columns from 0.
/// A connection closed while statements live stays open (a zombie, in SQLite's words) until the
/// last one is finalized, so a statement needs no reference to its connection.
final class SQLiteStatement {
    private let handle: OpaquePointer

    init(handle: OpaquePointer) {
        self.handle = handle
    }

    private var lastErrorMessage: String { String(cString: sqlite3_errmsg(sqlite3_db_handle(handle))) }
    private var databasePath: String {
        sqlite3_db_filename(sqlite3_db_handle(handle), "main").map { String(cString: $0) } ?? ""
    }

    deinit { sqlite3_finalize(handle) }

    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    /// Advances to the next row; `false` once the statement is done.
    @discardableResult
    func step() throws(DLAStoreError) -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let message = lastErrorMessage
            sqlite3_reset(handle)
            throw DLAStoreError(sqliteCode: rc, message: message, path: databasePath)
        }
    }

    /// Binds values to `?1`, `?2`, … in order.
    func bind(_ values: SQLiteValue...) throws(DLAStoreError) {
        try bind(values)
    }

    func bind(_ values: [SQLiteValue]) throws(DLAStoreError) {
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let rc: Int32
            switch value {
            case .null:
                rc = sqlite3_bind_null(handle, index)
            case .integer(let integer):
                rc = sqlite3_bind_int64(handle, index, integer)
            case .real(let real):
                rc = sqlite3_bind_double(handle, index, real)
            case .text(let text):
                rc = sqlite3_bind_text(handle, index, text, -1, transient)
            case .blob(let bytes):
                if bytes.isEmpty {
                    rc = sqlite3_bind_zeroblob(handle, index, 0)
                } else {
                    rc = bytes.withUnsafeBytes { buffer in
                        sqlite3_bind_blob64(handle, index, buffer.baseAddress, UInt64(buffer.count), transient)
                    }
                }
            }
            if rc != SQLITE_OK {
                throw DLAStoreError(sqliteCode: rc, message: "binding parameter \(index): \(lastErrorMessage)", path: databasePath)
            }
        }
    }

    /// Runs a statement that returns no rows.
    func run(_ values: SQLiteValue...) throws(DLAStoreError) {
        try bind(values)
        try step()
        sqlite3_reset(handle)
    }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

    func optionalInt64(_ column: Int32) -> Int64? { isNull(column) ? nil : int64(column) }

    func double(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }

    func text(_ column: Int32) -> String? {
        guard let pointer = sqlite3_column_text(handle, column) else { return nil }
        return String(cString: pointer)
    }

    func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(handle, column))
        guard count > 0, let pointer = sqlite3_column_blob(handle, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    func optionalBlob(_ column: Int32) -> [UInt8]? { isNull(column) ? nil : blob(column) }
}

/// A value bound to a statement parameter.
enum SQLiteValue {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    static func optionalText(_ text: String?) -> SQLiteValue { text.map { .text($0) } ?? .null }
    static func optionalBlob(_ bytes: [UInt8]?) -> SQLiteValue { bytes.map { .blob($0) } ?? .null }
    static func optionalInteger(_ value: Int64?) -> SQLiteValue { value.map { .integer($0) } ?? .null }
}
