import Dispatch

/// dlad's durable state: the model registry and the inference history, in one SQLite database.
///
/// All writes go through one connection on one serial queue (`GroupCommitWriter`), all reads through
/// a small pool of read connections (`ReaderPool`); no call blocks a thread of Swift's cooperative
/// pool. An `async` write returns only once its transaction is durable under `StoreOptions.durability`.
public final class DLAStore: Sendable {
    public let path: String
    public let options: StoreOptions
    let writer: GroupCommitWriter
    let readers: ReaderPool

    public var registry: ModelRegistry { ModelRegistry(store: self) }
    public var history: InferenceHistory { InferenceHistory(store: self) }
    public var retention: Retention { Retention(store: self) }
    /// Group-commit counters since open.
    public var writerStatistics: WriterStatistics { writer.statistics }

    private init(path: String, options: StoreOptions, writer: GroupCommitWriter, readers: ReaderPool) {
        self.path = path
        self.options = options
        self.writer = writer
        self.readers = readers
    }

    /// Opens (creating if absent) the database at `path`, checking and migrating it first.
    ///
    /// Refuses, and leaves the file untouched: a database that fails its startup check
    /// (`.corrupt` with the check's output), a file written by another program
    /// (`.notADladDatabase`) and a schema newer than this build (`.newerSchema`).
    public static func open(path: String, options: StoreOptions = StoreOptions()) async throws(DLAStoreError) -> DLAStore {
        guard options.readerCount >= 1, options.maxGroupSize >= 1, options.busyRetries >= 1, options.maxPendingWrites >= 1 else {
            throw .invalidArgument(
                "store options: expected readerCount, maxGroupSize, busyRetries and maxPendingWrites of at least 1, found "
                    + "\(options.readerCount), \(options.maxGroupSize), \(options.busyRetries), \(options.maxPendingWrites)")
        }
        let result: Result<DLAStore, DLAStoreError> = await withCheckedContinuation { continuation in
            DispatchQueue(label: "dlad.store.open").async {
                continuation.resume(returning: Result { () throws(DLAStoreError) -> DLAStore in
                    let connection = try DatabaseOpener.openWriter(path: path, options: options)
                    let writer = try GroupCommitWriter(connection: connection, options: options)
                    var readers: [SQLiteConnection] = []
                    for _ in 0..<options.readerCount {
                        readers.append(try DatabaseOpener.openReader(path: path, options: options))
                    }
                    return DLAStore(
                        path: path, options: options, writer: writer, readers: ReaderPool(connections: readers))
                })
            }
        }
        return try result.get()
    }

    /// Writes a consistent copy of the live database to `destination`, a path that must not exist.
    /// The copy is read in one read transaction, so writers carry on meanwhile (WAL).
    public func backup(to destination: String) async throws(DLAStoreError) {
        let options = options
        try await readers.read { source throws(DLAStoreError) in
            if (try? SQLiteConnection(path: destination, create: false)) != nil {
                throw .invalidArgument("backup destination \(destination): expected no file, found one")
            }
            let target = try SQLiteConnection(path: destination, create: true)
            target.setBusyTimeout(milliseconds: options.busyTimeoutMilliseconds)
            try source.backup(into: target)
        }
    }

    /// `PRAGMA integrity_check` of the live database: `["ok"]` when healthy.
    public func integrityCheck() async throws(DLAStoreError) -> [String] {
        try await readers.read { connection throws(DLAStoreError) in
            try connection.textRows("PRAGMA integrity_check")
        }
    }

    /// The database's size in pages, as retention sees it.
    public func size() async throws(DLAStoreError) -> DatabaseSize {
        try await readers.read { connection throws(DLAStoreError) in try DatabaseSize(connection) }
    }

    /// Writes everything already accepted, closes the connections (the WAL is checkpointed into
    /// the database file and removed), and from then on fails every call with `.closed`.
    public func close() async {
        await writer.close()
        await readers.close()
    }
}

/// Sizes of the main database file (the WAL is bounded separately by `walSizeLimitBytes`).
public struct DatabaseSize: Sendable, Equatable {
    public var pageSize: Int64
    public var pageCount: Int64
    public var freePages: Int64

    public var fileBytes: Int64 { pageSize * pageCount }
    /// Bytes holding data: what `RetentionPolicy.maxBytes` bounds.
    public var usedBytes: Int64 { pageSize * (pageCount - freePages) }

    init(_ connection: SQLiteConnection) throws(DLAStoreError) {
        pageSize = try connection.integer("PRAGMA page_size") ?? 0
        pageCount = try connection.integer("PRAGMA page_count") ?? 0
        freePages = try connection.integer("PRAGMA freelist_count") ?? 0
    }
}
