@testable import DLAStore
import Testing

@Suite struct BackupTests {
    @Test func backupOfALiveDatabaseIsAConsistentOpenableCopy() async throws {
        let directory = try TestDirectory()
        let store = try await Fixture.storeWithModel(directory)
        for _ in 0..<100 { _ = try await store.history.record(Fixture.record()) }
        let destination = directory.file("backup.sqlite")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask { for _ in 0..<50 { _ = try await store.history.record(Fixture.record()) } }
            }
            group.addTask { try await store.backup(to: destination) }
            try await group.waitForAll()
        }
        let copy = try await DLAStore.open(path: destination)
        #expect(try await copy.integrityCheck() == ["ok"])
        let copied = try await copy.history.query(HistoryQuery(limit: 1000, order: .oldestFirst)).rows
        let source = try await store.history.query(HistoryQuery(limit: 1000, order: .oldestFirst)).rows
        #expect(copied.count >= 100 && copied.count <= 300)
        // A snapshot: a prefix of the source's rows, identical row for row.
        #expect(copied == Array(source.prefix(copied.count)))
        #expect(try await copy.registry.bytes(model: "lenet", version: 1) == [1, 2, 3])
        await #expect(throws: DLAStoreError.self) { try await store.backup(to: destination) }
    }
}
