@testable import DLAStore
import Foundation
import Testing

/// Builds databases as each earlier dlad left them and checks that opening migrates them forward.
@Suite struct MigrationTests {
    /// A database at schema `version`, created the way that dlad created it.
    static func makeDatabase(at path: String, schemaVersion version: Int) throws {
        let connection = try SQLiteConnection(path: path, create: true)
        try connection.execute("PRAGMA auto_vacuum = INCREMENTAL")
        _ = try connection.textRows("PRAGMA journal_mode = WAL")
        try Schema.migrate(connection, to: version, busyRetries: 1)
    }

    @Test func freshDatabaseIsCreatedAtTheCurrentSchemaWithItsSettings() async throws {
        let directory = try TestDirectory()
        let path = directory.file("fresh.sqlite")
        let store = try await DLAStore.open(path: path)
        await store.close()
        // Closing checkpointed the write-ahead log into the file and removed it.
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
        await #expect(throws: DLAStoreError.closed) { try await store.history.query(HistoryQuery()) }
        await #expect(throws: DLAStoreError.closed) { try await store.history.record(Fixture.record()) }
        let connection = try SQLiteConnection(path: path, create: false)
        #expect(try connection.integer("PRAGMA user_version") == Int64(Schema.currentVersion))
        #expect(try connection.integer("PRAGMA application_id") == Int64(DatabaseIdentity.applicationID))
        #expect(try connection.integer("PRAGMA auto_vacuum") == 2)
        #expect(try connection.textRows("PRAGMA journal_mode") == ["wal"])
    }

    @Test(arguments: 0..<Schema.currentVersion)
    func everyEarlierSchemaMigratesWithItsData(from version: Int) async throws {
        let directory = try TestDirectory()
        let path = directory.file("old.sqlite")
        try Self.makeDatabase(at: path, schemaVersion: version)
        if version >= 1 {
            // Rows as schema 1 stored them: no signer, no top-1, no stored input.
            let connection = try SQLiteConnection(path: path, create: false)
            try connection.execute("""
                INSERT INTO models (id, name, last_version, active_version, created_at) VALUES (1, 'lenet', 1, 1, 5);
                INSERT INTO model_versions (id, model_id, version, sha256, size, precision, profile, metadata,
                    created_at, pushed_by)
                VALUES (1, 1, 1, zeroblob(32), 3, 'int8', 'nv_small', '{}', 5, 1000);
                INSERT INTO model_blobs (version_id, bytes) VALUES (1, x'010203');
                INSERT INTO activations (model_id, from_version, to_version, by_uid, at) VALUES (1, NULL, 1, 1000, 6);
                INSERT INTO inferences (at, model_id, version, batch_size, status, latency_us, cycles, energy_pj,
                    input_sha256, outputs, client_uid)
                VALUES (7, 1, 1, 1, 0, 250, 99, 1.5, zeroblob(32), x'0A0B', 42);
                """)
        }
        let store = try await DLAStore.open(path: path)
        if version >= 1 {
            let old = try #require(try await store.history.row(id: 1))
            #expect(old.record.latencyMicroseconds == 250 && old.record.outputs == [10, 11] && old.record.top1 == [])
            #expect(old.record.requestID == "" && old.record.error == nil)
            #expect(try await store.registry.activeVersion(of: "lenet")?.signerKeyID == nil)
            #expect(try await store.registry.bytes(model: "lenet", version: 1) == [1, 2, 3])
        } else {
            _ = try await store.registry.push(
                model: "lenet", bytes: [1, 2, 3], sha256: Fixture.sha(1), precision: "int8", profile: "nv_small", pushedBy: 0)
        }
        // What only the current schema holds works on the migrated file.
        let pushed = try await store.registry.push(
            model: "lenet", bytes: [4], sha256: Fixture.sha(2), precision: "int8", profile: "nv_small", pushedBy: 0,
            signerKeyID: "k")
        #expect(pushed.version.version == 2 && pushed.version.signerKeyID == "k")
        let id = try await store.history.record(Fixture.record())
        #expect(try await store.history.row(id: id)?.record.top1 == Fixture.record().top1)
        #expect(try await store.history.query(HistoryQuery(requestID: Fixture.record().requestID)).rows.map(\.id) == [id])
        #expect(try await store.history.query(HistoryQuery(model: "lenet", status: .failed)).rows.isEmpty)
        #expect(try await store.integrityCheck() == ["ok"])
    }

    @Test func databaseFromANewerDladIsRefused() async throws {
        let directory = try TestDirectory()
        let path = directory.file("newer.sqlite")
        try Self.makeDatabase(at: path, schemaVersion: Schema.currentVersion)
        try SQLiteConnection(path: path, create: false).execute("PRAGMA user_version = \(Schema.currentVersion + 1)")
        await #expect(throws: DLAStoreError.newerSchema(
            path: path, found: Schema.currentVersion + 1, supported: Schema.currentVersion)
        ) {
            try await DLAStore.open(path: path)
        }
    }

    @Test func someoneElsesDatabaseIsRefused() async throws {
        let directory = try TestDirectory()
        let path = directory.file("other.sqlite")
        try SQLiteConnection(path: path, create: true).execute("CREATE TABLE notes (body TEXT)")
        await #expect(throws: DLAStoreError.notADladDatabase(path: path, applicationID: 0)) {
            try await DLAStore.open(path: path)
        }
    }
}
