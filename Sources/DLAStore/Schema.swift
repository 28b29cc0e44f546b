/// How a dlad database identifies itself: `PRAGMA application_id` says "this file is dlad's",
/// `PRAGMA user_version` says which schema it holds.
enum DatabaseIdentity {
    /// "DLAD" in ASCII.
    static let applicationID: Int32 = 0x444C_4144
}

/// One forward step of the schema. Steps are applied in order, each in its own transaction that
/// also bumps `user_version`, so a crash mid-migration leaves the previous, consistent version.
struct Migration: Sendable {
    let version: Int
    let sql: String
}

enum Schema {
    static var currentVersion: Int { migrations.count }

    /// Every schema dlad has shipped. Never edit a step once released: add a new one.
    static let migrations: [Migration] = [
        Migration(version: 1, sql: """
            CREATE TABLE models (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                last_version INTEGER NOT NULL DEFAULT 0,
                active_version INTEGER,
                created_at INTEGER NOT NULL
            );
            CREATE TABLE model_versions (
                id INTEGER PRIMARY KEY,
                model_id INTEGER NOT NULL REFERENCES models(id),
                version INTEGER NOT NULL,
                sha256 BLOB NOT NULL CHECK (length(sha256) = 32),
                size INTEGER NOT NULL,
                precision TEXT NOT NULL,
                profile TEXT NOT NULL,
                metadata TEXT NOT NULL CHECK (json_valid(metadata)),
                created_at INTEGER NOT NULL,
                pushed_by INTEGER NOT NULL,
                UNIQUE (model_id, version),
                UNIQUE (model_id, sha256)
            );
            CREATE TABLE model_blobs (
                version_id INTEGER PRIMARY KEY REFERENCES model_versions(id) ON DELETE CASCADE,
                bytes BLOB NOT NULL
            );
            CREATE TABLE activations (
                id INTEGER PRIMARY KEY,
                model_id INTEGER NOT NULL REFERENCES models(id),
                from_version INTEGER,
                to_version INTEGER NOT NULL,
                by_uid INTEGER NOT NULL,
                at INTEGER NOT NULL
            );
            CREATE INDEX activations_by_model ON activations(model_id, id);
            CREATE TABLE inferences (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                at INTEGER NOT NULL,
                model_id INTEGER NOT NULL REFERENCES models(id),
                version INTEGER NOT NULL,
                batch_size INTEGER NOT NULL,
                status INTEGER NOT NULL,
                latency_us INTEGER NOT NULL,
                cycles INTEGER NOT NULL,
                energy_pj REAL NOT NULL,
                input_sha256 BLOB NOT NULL,
                outputs BLOB NOT NULL,
                client_uid INTEGER NOT NULL
            );
            CREATE INDEX inferences_by_model ON inferences(model_id, id);
            """),
        // Signed models, exact rollback (activations know which entries undo others), the optional
        // stored input, per-sample top-1, and indexes that answer filtered pages without sorting.
        Migration(version: 2, sql: """
            ALTER TABLE model_versions ADD COLUMN signer_key_id TEXT;
            ALTER TABLE activations ADD COLUMN kind INTEGER NOT NULL DEFAULT 0 CHECK (kind IN (0, 1));
            ALTER TABLE inferences ADD COLUMN input BLOB;
            ALTER TABLE inferences ADD COLUMN top1 BLOB NOT NULL DEFAULT x'';
            DROP INDEX inferences_by_model;
            CREATE INDEX inferences_by_model ON inferences(model_id, id, version, status, latency_us);
            CREATE INDEX inferences_by_time ON inferences(at);
            CREATE INDEX inferences_failed ON inferences(id) WHERE status <> 0;
            CREATE INDEX inferences_failed_by_model ON inferences(model_id, id) WHERE status <> 0;
            """),
        // The request id that leads from a log line to its row, and a failed request's message.
        Migration(version: 3, sql: """
            ALTER TABLE inferences ADD COLUMN request_id TEXT NOT NULL DEFAULT '';
            ALTER TABLE inferences ADD COLUMN error TEXT;
            CREATE INDEX inferences_by_request ON inferences(request_id, id) WHERE request_id <> '';
            """),
    ]

    /// Applies every step above the database's `user_version`, up to `target`.
    static func migrate(
        _ connection: SQLiteConnection, to target: Int = currentVersion, busyRetries: Int
    ) throws(DLAStoreError) {
        let found = Int(try connection.integer("PRAGMA user_version") ?? 0)
        for migration in migrations where migration.version > found && migration.version <= target {
            try connection.transaction(busyRetries: busyRetries) { () throws(DLAStoreError) in
                if migration.version == 1 {
                    try connection.execute("PRAGMA application_id = \(DatabaseIdentity.applicationID)")
                }
                try connection.execute(migration.sql)
                try connection.execute("PRAGMA user_version = \(migration.version)")
            }
        }
    }
}
