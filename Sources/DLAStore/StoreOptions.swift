/// How the store opens and runs its database. The defaults are the durable ones.
public struct StoreOptions: Sendable {
    /// What an acknowledged write survives.
    public enum Durability: Sendable {
        /// `synchronous=FULL`: every commit is fsynced, so an acknowledged row survives a power cut.
        case full
        /// `synchronous=NORMAL`: commits reach the WAL file but are fsynced only at checkpoints, so an
        /// acknowledged row survives a crash of dlad but may be lost if the machine loses power.
        case normal
    }

    /// What is checked before a database is trusted at open. Either reports at most
    /// `maxStartupCheckErrors` problems, so a badly damaged file cannot flood memory or the log.
    public enum StartupCheck: Sendable {
        /// `PRAGMA integrity_check`: every page, every index entry (about a second per GB here,
        /// and it grows with the indexes: slow to start on a large history).
        case integrity
        /// `PRAGMA quick_check`: every page's structure, but not that indexes match their tables;
        /// the default, so that start-up time stays bounded by the file's size. The full check
        /// stays available while running as `DLAStore.integrityCheck()`.
        case quick
    }

    public var durability: Durability = .full
    public var startupCheck: StartupCheck = .quick
    /// Most problems the startup check reports before it stops.
    public var maxStartupCheckErrors: Int = 100
    /// How long one attempt waits for a lock held by another connection (SQLite's busy handler).
    public var busyTimeoutMilliseconds: Int32 = 2000
    /// How many times a write transaction is attempted before `DLAStoreError.busy`.
    public var busyRetries: Int = 3
    /// Most history rows committed in one transaction (one fsync).
    public var maxGroupSize: Int = 512
    /// Most writes (history rows, registry changes) waiting for the writer; one more fails at once
    /// with `DLAStoreError.queueFull` instead of growing memory without bound under overload.
    public var maxPendingWrites: Int = 8192
    /// The longest the writer lingers for the callers of the previous group to come back before
    /// committing the next (see `GroupCommitWriter`); the linger ends as soon as they have. It
    /// delays an acknowledgement only when the load drops. Zero turns lingering off.
    public var maxGroupWaitMicroseconds: UInt32 = 1000
    /// Whether `InferenceRecord.input` is stored; when false only its digest is kept.
    public var storeInputs: Bool = false
    /// Read connections; each serves one query at a time on its own queue.
    public var readerCount: Int = 2
    /// A hard ceiling on the database file (`PRAGMA max_page_count`); writes past it fail with
    /// `DLAStoreError.diskFull`, exactly as a full disk would.
    public var hardSizeLimitBytes: Int64?
    /// The write-ahead log is truncated back to this size after checkpoints.
    public var walSizeLimitBytes: Int64 = 64 << 20
    public var retention: RetentionPolicy = RetentionPolicy()
    /// The SQLite VFS (already registered) through which every connection opens the database; nil,
    /// the default, is SQLite's own. The power-cut test opens the store on a VFS that simulates a
    /// disk losing unsynced writes (docs/STORE.md, "Power cuts").
    public var vfsName: String?
    /// Whether a commit's write-ahead log frames reach the file as one write instead of two per
    /// page (`CWALWriteBuffer`, over `vfsName`): the same bytes, fewer system calls.
    public var gathersWALWrites: Bool = true

    public init() {}

    var synchronousPragma: String {
        switch durability {
        case .full: return "FULL"
        case .normal: return "NORMAL"
        }
    }

    var startupCheckPragma: String {
        let limit = max(maxStartupCheckErrors, 1)
        switch startupCheck {
        case .integrity: return "integrity_check(\(limit))"
        case .quick: return "quick_check(\(limit))"
        }
    }
}
