import CWALWriteBuffer
@testable import DLAStore
import Foundation
import Testing

/// The WAL write buffer (Sources/CWALWriteBuffer) against SQLite's own writes: the same
/// transactions give the same database bytes with and without it, a commit reaches the file as one
/// write, and a commit is in the file before another connection can see it even when nothing syncs.
/// Power cuts through the buffer are PowerCutTests' (the store always opens through it).
@Suite(.serialized) struct WALWriteBufferTests {
    /// Rows of 300 bytes, several pages per transaction, with an index so that one commit touches
    /// pages all over the file.
    static let schema = """
        PRAGMA journal_mode = WAL;
        CREATE TABLE rows (id INTEGER PRIMARY KEY, key TEXT NOT NULL, body BLOB NOT NULL);
        CREATE INDEX rows_by_key ON rows(key);
        """

    static func insertTransaction(_ connection: SQLiteConnection, first: Int, count: Int) throws {
        try connection.execute("BEGIN IMMEDIATE")
        for id in first..<(first + count) {
            try connection.execute(
                "INSERT INTO rows VALUES (\(id), 'key-\((id &* 2_654_435_761) % 100_003)', zeroblob(300))")
        }
        try connection.execute("COMMIT")
    }

    /// A buffering VFS of the tests' own, so that its counts are only theirs.
    static let vfsName: String = {
        precondition(walbuffer_register(nil, "walbuffer-tests") == 0)
        return "walbuffer-tests"
    }()

    static func openThroughBuffer(_ path: String) throws -> SQLiteConnection {
        try SQLiteConnection(path: path, create: true, vfs: vfsName)
    }

    @Test func theSameTransactionsGiveTheSameDatabaseBytes() throws {
        let directory = try TestDirectory()
        let plainPath = directory.file("plain.sqlite")
        let bufferedPath = directory.file("buffered.sqlite")
        for (path, buffered) in [(plainPath, false), (bufferedPath, true)] {
            let connection = buffered ? try Self.openThroughBuffer(path) : try SQLiteConnection(path: path, create: true)
            try connection.execute(Self.schema)
            try connection.execute("PRAGMA synchronous = FULL")
            for transaction in 0..<40 { try Self.insertTransaction(connection, first: transaction * 25, count: 25) }
            try connection.execute("DELETE FROM rows WHERE id % 7 = 0")
            connection.close()
        }
        let plain = try Data(contentsOf: URL(fileURLWithPath: plainPath))
        let buffered = try Data(contentsOf: URL(fileURLWithPath: bufferedPath))
        #expect(plain.count > 100_000)
        #expect(plain == buffered, "the database written through the WAL buffer differs from SQLite's own")
    }

    @Test func aCommitReachesTheFileAsOneWrite() throws {
        let directory = try TestDirectory()
        let connection = try Self.openThroughBuffer(directory.file("one.sqlite"))
        try connection.execute(Self.schema)
        try connection.execute("PRAGMA synchronous = FULL")
        try Self.insertTransaction(connection, first: 0, count: 10)
        for transaction in 1...20 {
            let before = walbuffer_read_statistics(Self.vfsName)
            try Self.insertTransaction(connection, first: transaction * 40, count: 40)
            let after = walbuffer_read_statistics(Self.vfsName)
            let requested = after.requestedWrites - before.requestedWrites
            let issued = after.issuedWrites - before.issuedWrites
            // Two writes per frame asked for, at least three pages (table, index, a split now and then).
            #expect(requested >= 6, "transaction \(transaction): SQLite asked for \(requested) WAL writes")
            #expect(issued == 1, "transaction \(transaction): \(requested) WAL writes reached the file as \(issued)")
        }
        connection.close()
    }

    /// Under `synchronous=NORMAL` no sync follows a commit: the buffer must still be in the file
    /// before SQLite publishes the commit, or the reader below reads frames that are not there.
    @Test func anotherConnectionSeesEveryCommitWithoutASync() throws {
        let directory = try TestDirectory()
        let path = directory.file("visible.sqlite")
        let writer = try Self.openThroughBuffer(path)
        try writer.execute(Self.schema)
        try writer.execute("PRAGMA synchronous = NORMAL")
        let reader = try SQLiteConnection(path: path, create: false)
        for transaction in 0..<60 {
            try Self.insertTransaction(writer, first: transaction * 30, count: 30)
            #expect(try reader.integer("SELECT count(*) FROM rows") == Int64((transaction + 1) * 30), "after commit \(transaction)")
            #expect(try reader.integer("SELECT sum(length(body)) FROM rows INDEXED BY rows_by_key WHERE key >= ''") == Int64((transaction + 1) * 30 * 300))
        }
        #expect(try reader.textRows("PRAGMA integrity_check") == ["ok"])
        reader.close()
        writer.close()
    }

    @Test func theStoreOpensThroughTheBufferUnlessTurnedOff() throws {
        #expect(try DatabaseOpener.vfs(StoreOptions()) == "dlad-walbuffer")
        var options = StoreOptions()
        options.gathersWALWrites = false
        #expect(try DatabaseOpener.vfs(options) == nil)
    }

    @Test func registeringOverAnUnknownVFSFails() {
        var options = StoreOptions()
        options.vfsName = "no-such-vfs"
        #expect(throws: DLAStoreError.self) { _ = try DatabaseOpener.vfs(options) }
        options.gathersWALWrites = false
        #expect((try? DatabaseOpener.vfs(options)) == "no-such-vfs")
    }
}
