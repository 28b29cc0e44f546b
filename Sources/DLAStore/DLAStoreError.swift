import CSQLite

/// Every failure the store reports. Each case names what was expected and what was found.
public enum DLAStoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The disk (or the configured hard size limit) is full: the write was rolled back, nothing was
    /// corrupted, and reads keep working. The HTTP API maps it to 507 Insufficient Storage.
    case diskFull(detail: String)
    /// Another writer held the database lock through every bounded retry.
    case busy(attempts: Int, detail: String)
    /// The writer already holds `limit` jobs waiting for their group: the write was not taken, so
    /// the caller may retry later. The HTTP API maps it to 503 Service Unavailable.
    case queueFull(limit: Int)
    /// The database failed its integrity check at open; it is left untouched for an operator.
    case corrupt(path: String, integrityCheck: [String])
    /// The file is an SQLite database that some other program wrote.
    case notADladDatabase(path: String, applicationID: Int32)
    /// A newer dlad wrote this database; this one knows schema versions up to `supported` only.
    case newerSchema(path: String, found: Int, supported: Int)
    case modelNotFound(model: String)
    case versionNotFound(model: String, version: Int)
    /// Only versions that are not active may be deleted.
    case versionIsActive(model: String, version: Int)
    /// The activation log holds no earlier active version to return to.
    case nothingToRollBack(model: String)
    /// A rollback found another target than the caller had prepared (a concurrent change).
    case rollbackTargetChanged(model: String, expected: Int, found: Int)
    case invalidArgument(String)
    /// The store was closed before the operation ran.
    case closed
    /// Any other SQLite failure, with its extended result code.
    case sqlite(code: Int32, message: String)

    /// Classifies an SQLite result code into the cases callers act on differently.
    init(sqliteCode code: Int32, message: String, path: String) {
        switch code & 0xFF {
        case SQLITE_FULL: self = .diskFull(detail: message)
        case SQLITE_BUSY, SQLITE_LOCKED: self = .busy(attempts: 1, detail: message)
        case SQLITE_CORRUPT, SQLITE_NOTADB: self = .corrupt(path: path, integrityCheck: [message])
        default: self = .sqlite(code: code, message: message)
        }
    }

    public var description: String {
        switch self {
        case .diskFull(let detail):
            return "database is full (disk or size limit); the write was rolled back: \(detail)"
        case .busy(let attempts, let detail):
            return "database stayed locked by another writer through \(attempts) attempts: \(detail)"
        case .queueFull(let limit):
            return "the store's write queue is full (\(limit) writes waiting, StoreOptions.maxPendingWrites); nothing was written, retry later"
        case .corrupt(let path, let check):
            return "database \(path) is corrupt; refusing to open it (it is left untouched). "
                + "integrity_check: \(check.joined(separator: "; "))"
        case .notADladDatabase(let path, let applicationID):
            return "\(path) is not a dlad database: expected application_id \(DatabaseIdentity.applicationID), "
                + "found \(applicationID)"
        case .newerSchema(let path, let found, let supported):
            return "\(path) was written by a newer dlad: schema version \(found), "
                + "this dlad supports up to \(supported); refusing to open it"
        case .modelNotFound(let model):
            return "no model named \"\(model)\""
        case .versionNotFound(let model, let version):
            return "model \"\(model)\" has no version \(version)"
        case .versionIsActive(let model, let version):
            return "version \(version) of model \"\(model)\" is active; activate another version before deleting it"
        case .nothingToRollBack(let model):
            return "model \"\(model)\" has no earlier active version to roll back to"
        case .rollbackTargetChanged(let model, let expected, let found):
            return "model \"\(model)\" changed while rolling back: it would now return to version \(found), not \(expected)"
        case .invalidArgument(let message):
            return message
        case .closed:
            return "the store is closed"
        case .sqlite(let code, let message):
            return "SQLite error \(code): \(message)"
        }
    }
}
