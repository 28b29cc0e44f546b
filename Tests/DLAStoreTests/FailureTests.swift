@testable import DLAStore
import Foundation
import Testing

@Suite struct FailureTests {
    @Test func fullDatabaseFailsWritesWithDiskFullKeepsReadsAndRecovers() async throws {
        let directory = try TestDirectory()
        var options = StoreOptions()
        options.hardSizeLimitBytes = 512 * 1024
        options.retention = RetentionPolicy(maxRows: 10)
        let store = try await Fixture.storeWithModel(directory, options: options)
        var big = Fixture.record()
        big.outputs = [UInt8](repeating: 0xEE, count: 4096)
        var acknowledged: [Int64] = []
        var fullError: DLAStoreError?
        for _ in 0..<1000 {
            do {
                acknowledged.append(try await store.history.record(big))
            } catch {
                fullError = error
                break
            }
        }
        guard case .diskFull? = fullError else {
            Issue.record("expected DLAStoreError.diskFull, found \(String(describing: fullError))")
            return
        }
        #expect(acknowledged.count > 10)
        // Reads keep working and see exactly the acknowledged rows.
        let page = try await store.history.query(HistoryQuery(limit: 1000, order: .oldestFirst))
        #expect(page.rows.map(\.id) == acknowledged)
        #expect(try await store.integrityCheck() == ["ok"])
        // Registry writes fail the same typed way.
        await #expect(throws: DLAStoreError.self) {
            try await store.registry.push(
                model: "huge", bytes: [UInt8](repeating: 1, count: 600 * 1024), sha256: Fixture.sha(9),
                precision: "int8", profile: "nv_small", pushedBy: 0)
        }
        // Pruning frees pages and writes succeed again.
        try await store.retention.enforce()
        #expect(try await store.history.record(big) > acknowledged.last ?? 0)
        await store.close()
    }

    @Test func busyDatabaseIsRetriedABoundedNumberOfTimes() async throws {
        let directory = try TestDirectory()
        var options = StoreOptions()
        options.busyTimeoutMilliseconds = 20
        options.busyRetries = 2
        let store = try await Fixture.storeWithModel(directory, options: options)
        let other = try SQLiteConnection(path: directory.file("dlad.sqlite"), create: false)
        try other.execute("BEGIN IMMEDIATE")
        await #expect {
            try await store.history.record(Fixture.record())
        } throws: { error in
            guard case DLAStoreError.busy(let attempts, _) = error else { return false }
            return attempts == 2
        }
        // Reads are not blocked by the other writer.
        #expect(try await store.history.query(HistoryQuery()).rows.isEmpty)
        try other.execute("COMMIT")
        #expect(try await store.history.record(Fixture.record()) == 1)
    }

    @Test func garbageFileIsRefusedAndLeftUntouched() async throws {
        let directory = try TestDirectory()
        let path = directory.file("garbage.sqlite")
        let garbage = Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        try garbage.write(to: URL(fileURLWithPath: path))
        await #expect {
            try await DLAStore.open(path: path)
        } throws: { error in
            guard case DLAStoreError.corrupt(let where_, let check) = error else { return false }
            return where_ == path && !check.isEmpty && "\(error)".contains("integrity_check")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == garbage)
    }

    @Test func damagedIndexPageIsRefusedWithTheIntegrityCheckOutput() async throws {
        let directory = try TestDirectory()
        let path = directory.file("damaged.sqlite")
        let rootPage: Int64
        let pageSize: Int64
        do {
            try MigrationTests.makeDatabase(at: path, schemaVersion: Schema.currentVersion)
            let connection = try SQLiteConnection(path: path, create: false)
            try connection.execute("""
                INSERT INTO models (id, name, created_at) VALUES (1, 'lenet', 0);
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
                INSERT INTO inferences (at, model_id, version, batch_size, status, latency_us, cycles, energy_pj,
                    input_sha256, outputs, client_uid)
                SELECT i * 1000, 1, 1, 1, 0, i, i, 0.5, zeroblob(32), x'00', 0 FROM n;
                PRAGMA wal_checkpoint(TRUNCATE);
                """)
            rootPage = try #require(try connection.integer("SELECT rootpage FROM sqlite_schema WHERE name = 'inferences_by_time'"))
            pageSize = try #require(try connection.integer("PRAGMA page_size"))
        }
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let pageEnd = Int(rootPage * pageSize)
        for offset in (pageEnd - 600)..<pageEnd { bytes[offset] = 0x7F }
        try bytes.write(to: URL(fileURLWithPath: path))
        await #expect {
            try await DLAStore.open(path: path)
        } throws: { error in
            guard case DLAStoreError.corrupt(let where_, let check) = error else { return false }
            return where_ == path && !check.isEmpty && check != ["ok"]
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == bytes)
    }
}
