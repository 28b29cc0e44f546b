#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Models, their versions and bytes, the active version of each, and the log of activations.
///
/// Metadata and bytes of a version commit in one transaction, so a version is either wholly there
/// or absent. The SHA-256 is the caller's (the daemon hashes what it received); the store keeps it
/// and uses it to make pushes idempotent.
public struct ModelRegistry: Sendable {
    let store: DLAStore

    /// Stores `bytes` as the next version of `model` (created on first push), or returns the
    /// existing version whose SHA-256 is `sha256`.
    public func push(
        model: String, bytes: [UInt8], sha256: [UInt8], precision: String, profile: String,
        metadataJSON: String = "{}", pushedBy: UInt32, signerKeyID: String? = nil
    ) async throws(DLAStoreError) -> PushResult {
        try Self.validate(modelName: model)
        guard sha256.count == 32 else {
            throw .invalidArgument("model SHA-256: expected 32 bytes, found \(sha256.count)")
        }
        guard !bytes.isEmpty else { throw .invalidArgument("model bytes: expected at least one byte, found none") }
        return try await store.writer.transaction { connection throws(DLAStoreError) -> PushResult in
            let valid = try connection.prepare("SELECT json_valid(?)")
            try valid.bind(.text(metadataJSON))
            guard try valid.step(), valid.int64(0) == 1 else {
                throw .invalidArgument("model metadata: expected a JSON text, found \(metadataJSON.prefix(80))")
            }
            let now = try Date().unixMicroseconds("the clock")
            let modelID: Int64
            if let existing = try Self.modelID(connection, model) {
                modelID = existing
                let same = try connection.prepare("SELECT version FROM model_versions WHERE model_id = ? AND sha256 = ?")
                try same.bind(.integer(modelID), .blob(sha256))
                if try same.step() {
                    let version = Int(same.int64(0))
                    return PushResult(version: try Self.version(connection, model, version), created: false)
                }
            } else {
                try connection.prepare("INSERT INTO models (name, created_at) VALUES (?, ?)").run(.text(model), .integer(now))
                modelID = connection.lastInsertedRowID
            }
            try connection.prepare("UPDATE models SET last_version = last_version + 1 WHERE id = ?").run(.integer(modelID))
            let version = try connection.integer("SELECT last_version FROM models WHERE id = \(modelID)") ?? 1
            try connection.prepare("""
                INSERT INTO model_versions (model_id, version, sha256, size, precision, profile, metadata,
                    created_at, pushed_by, signer_key_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).run(
                    .integer(modelID), .integer(version), .blob(sha256), .integer(Int64(bytes.count)),
                    .text(precision), .text(profile), .text(metadataJSON), .integer(now),
                    .integer(Int64(pushedBy)), .optionalText(signerKeyID))
            let versionRowID = connection.lastInsertedRowID
            try connection.prepare("INSERT INTO model_blobs (version_id, bytes) VALUES (?, ?)")
                .run(.integer(versionRowID), .blob(bytes))
            return PushResult(version: try Self.version(connection, model, Int(version)), created: true)
        }
    }

    /// Makes `version` the active version of `model`, logging who did it. Activating the version
    /// that is already active changes nothing and returns the latest log entry.
    @discardableResult
    public func activate(model: String, version: Int, by uid: UInt32) async throws(DLAStoreError) -> Activation {
        try await store.writer.transaction { connection throws(DLAStoreError) -> Activation in
            let (modelID, active) = try Self.modelState(connection, model)
            _ = try Self.version(connection, model, version)
            if active == version, let latest = try Self.activations(connection, model, limit: 1).first {
                return latest
            }
            return try Self.switchActive(
                connection, model: model, modelID: modelID, from: active, to: version, kind: .activate, by: uid)
        }
    }

    /// Returns `model` to the version that was active before the last activation not yet undone.
    /// Successive rollbacks walk back through the log: A→B→C, rollback gives B, again gives A.
    @discardableResult
    /// Returns to the version that was active before the last activation not yet undone.
    /// With `expected`, refuses (`.rollbackTargetChanged`) unless that is the version returned to:
    /// the daemon builds the target before it becomes active, and a concurrent change must not
    /// make it activate another.
    public func rollback(model: String, by uid: UInt32, expected: Int? = nil) async throws(DLAStoreError) -> Activation {
        try await store.writer.transaction { connection throws(DLAStoreError) -> Activation in
            let (modelID, current, version) = try Self.rollbackTarget(connection, model)
            if let expected, expected != version {
                throw .rollbackTargetChanged(model: model, expected: expected, found: version)
            }
            return try Self.switchActive(
                connection, model: model, modelID: modelID, from: current, to: version, kind: .rollback, by: uid)
        }
    }

    /// The version `rollback` would return to now.
    public func rollbackTarget(model: String) async throws(DLAStoreError) -> Int {
        try await store.readers.read { connection throws(DLAStoreError) -> Int in try Self.rollbackTarget(connection, model).version }
    }

    /// The active version and the one before the last activation not undone by a rollback.
    private static func rollbackTarget(_ connection: SQLiteConnection, _ model: String) throws(DLAStoreError)
        -> (modelID: Int64, current: Int, version: Int) {
        let (modelID, active) = try modelState(connection, model)
        var undone = 0
        var target: Int?? = nil
        for entry in try activations(connection, model, limit: nil) {
            switch entry.kind {
            case .rollback:
                undone += 1
            case .activate where undone > 0:
                undone -= 1
            case .activate:
                target = .some(entry.fromVersion)
            }
            if target != nil { break }
        }
        guard let found = target, let version = found, let current = active else {
            throw .nothingToRollBack(model: model)
        }
        _ = try Self.version(connection, model, version)
        return (modelID, current, version)
    }

    /// Deletes a version that is not active, bytes included. Its number is never reused.
    public func delete(model: String, version: Int) async throws(DLAStoreError) {
        try await store.writer.transaction { connection throws(DLAStoreError) in
            let (modelID, active) = try Self.modelState(connection, model)
            if active == version { throw .versionIsActive(model: model, version: version) }
            try connection.prepare("DELETE FROM model_versions WHERE model_id = ? AND version = ?")
                .run(.integer(modelID), .integer(Int64(version)))
            if connection.changes == 0 { throw .versionNotFound(model: model, version: version) }
        }
    }

    public func models() async throws(DLAStoreError) -> [ModelSummary] {
        try await store.readers.read { connection throws(DLAStoreError) in
            let statement = try connection.prepare("""
                SELECT m.name, m.active_version, m.last_version,
                    (SELECT count(*) FROM model_versions v WHERE v.model_id = m.id)
                FROM models m ORDER BY m.name
                """)
            var summaries: [ModelSummary] = []
            while try statement.step() {
                summaries.append(ModelSummary(
                    name: statement.text(0) ?? "", activeVersion: statement.optionalInt64(1).map { Int($0) },
                    lastVersion: Int(statement.int64(2)), versionCount: Int(statement.int64(3))))
            }
            return summaries
        }
    }

    /// Every stored version of `model`, oldest first.
    public func versions(of model: String) async throws(DLAStoreError) -> [ModelVersion] {
        try await store.readers.read { connection throws(DLAStoreError) in
            _ = try Self.modelState(connection, model)
            let statement = try connection.prepare("""
                SELECT \(ModelVersion.selectColumns) FROM model_versions v JOIN models m ON m.id = v.model_id
                WHERE m.name = ? ORDER BY v.version
                """)
            try statement.bind(.text(model))
            var versions: [ModelVersion] = []
            while try statement.step() { versions.append(ModelVersion(statement)) }
            return versions
        }
    }

    public func version(model: String, version: Int) async throws(DLAStoreError) -> ModelVersion {
        try await store.readers.read { connection throws(DLAStoreError) in try Self.version(connection, model, version) }
    }

    /// The active version of `model`, or nil when none has been activated yet.
    public func activeVersion(of model: String) async throws(DLAStoreError) -> ModelVersion? {
        try await store.readers.read { connection throws(DLAStoreError) -> ModelVersion? in
            guard let active = try Self.modelState(connection, model).active else { return nil }
            return try Self.version(connection, model, active)
        }
    }

    /// The bytes of a version, exactly as pushed.
    public func bytes(model: String, version: Int) async throws(DLAStoreError) -> [UInt8] {
        try await store.readers.read { connection throws(DLAStoreError) -> [UInt8] in
            let statement = try connection.prepare("""
                SELECT b.bytes FROM model_blobs b JOIN model_versions v ON v.id = b.version_id
                JOIN models m ON m.id = v.model_id WHERE m.name = ? AND v.version = ?
                """)
            try statement.bind(.text(model), .integer(Int64(version)))
            guard try statement.step() else { throw .versionNotFound(model: model, version: version) }
            return statement.blob(0)
        }
    }

    /// The activation log of `model`, newest first.
    public func activations(of model: String, limit: Int? = nil) async throws(DLAStoreError) -> [Activation] {
        try await store.readers.read { connection throws(DLAStoreError) in
            _ = try Self.modelState(connection, model)
            return try Self.activations(connection, model, limit: limit)
        }
    }

    // MARK: Statements shared by the operations above

    static func validate(modelName: String) throws(DLAStoreError) {
        guard !modelName.isEmpty, modelName.utf8.count <= 128 else {
            throw .invalidArgument("model name: expected 1 to 128 bytes, found \(modelName.utf8.count)")
        }
    }

    static func modelID(_ connection: SQLiteConnection, _ model: String) throws(DLAStoreError) -> Int64? {
        try modelStateIfPresent(connection, model)?.id
    }

    static func modelState(_ connection: SQLiteConnection, _ model: String) throws(DLAStoreError) -> (id: Int64, active: Int?) {
        guard let state = try modelStateIfPresent(connection, model) else { throw .modelNotFound(model: model) }
        return state
    }

    private static func modelStateIfPresent(
        _ connection: SQLiteConnection, _ model: String
    ) throws(DLAStoreError) -> (id: Int64, active: Int?)? {
        let statement = try connection.prepare("SELECT id, active_version FROM models WHERE name = ?")
        try statement.bind(.text(model))
        guard try statement.step() else { return nil }
        return (statement.int64(0), statement.optionalInt64(1).map { Int($0) })
    }

    static func version(_ connection: SQLiteConnection, _ model: String, _ version: Int) throws(DLAStoreError) -> ModelVersion {
        let statement = try connection.prepare("""
            SELECT \(ModelVersion.selectColumns) FROM model_versions v JOIN models m ON m.id = v.model_id
            WHERE m.name = ? AND v.version = ?
            """)
        try statement.bind(.text(model), .integer(Int64(version)))
        guard try statement.step() else { throw .versionNotFound(model: model, version: version) }
        return ModelVersion(statement)
    }

    static func activations(_ connection: SQLiteConnection, _ model: String, limit: Int?) throws(DLAStoreError) -> [Activation] {
        let statement = try connection.prepare("""
            SELECT a.id, a.kind, a.from_version, a.to_version, a.by_uid, a.at
            FROM activations a JOIN models m ON m.id = a.model_id
            WHERE m.name = ? ORDER BY a.id DESC LIMIT ?
            """)
        try statement.bind(.text(model), .integer(Int64(limit ?? -1)))
        var entries: [Activation] = []
        while try statement.step() {
            entries.append(Activation(
                id: statement.int64(0), model: model, kind: statement.int64(1) == 1 ? .rollback : .activate,
                fromVersion: statement.optionalInt64(2).map { Int($0) }, toVersion: Int(statement.int64(3)),
                by: UInt32(truncatingIfNeeded: statement.int64(4)), at: Date(unixMicroseconds: statement.int64(5))))
        }
        return entries
    }

    private static func switchActive(
        _ connection: SQLiteConnection, model: String, modelID: Int64, from: Int?, to: Int,
        kind: Activation.Kind, by uid: UInt32
    ) throws(DLAStoreError) -> Activation {
        let now = try Date().unixMicroseconds("the clock")
        try connection.prepare("UPDATE models SET active_version = ? WHERE id = ?").run(.integer(Int64(to)), .integer(modelID))
        try connection.prepare("""
            INSERT INTO activations (model_id, kind, from_version, to_version, by_uid, at) VALUES (?, ?, ?, ?, ?, ?)
            """).run(
                .integer(modelID), .integer(kind == .rollback ? 1 : 0), .optionalInteger(from.map { Int64($0) }),
                .integer(Int64(to)), .integer(Int64(uid)), .integer(now))
        return Activation(
            id: connection.lastInsertedRowID, model: model, kind: kind, fromVersion: from, toVersion: to, by: uid,
            at: Date(unixMicroseconds: now))
    }
}
