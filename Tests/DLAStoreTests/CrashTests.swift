@testable import DLAStore
import Foundation
import Testing

/// A real child process writes history under load and is SIGKILLed at random moments; every row
/// it was told is durable must be there after reopening, and the database must be intact.
@Suite struct CrashTests {
    static let kills = 20

    /// `dlad-store-torture` is built next to the test bundle, whatever the scratch path.
    static func tortureExecutable() throws -> URL {
        let selfPath = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: selfPath).deletingLastPathComponent()
        // On platforms where the tests run from inside a bundle, the products directory is higher up.
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("dlad-store-torture")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory.deleteLastPathComponent()
        }
        throw DLAStoreError.invalidArgument(
            "dlad-store-torture: expected next to \(selfPath) (build all targets first), found nothing")
    }

    @Test func acknowledgedRowsSurviveSIGKILL() async throws {
        let executable = try Self.tortureExecutable()
        let directory = try TestDirectory()
        let database = directory.file("torture.sqlite")
        var acknowledged = Set<Int64>()
        var generator = SystemRandomNumberGenerator()
        for round in 0..<Self.kills {
            let output = directory.file("acks-\(round).txt")
            _ = FileManager.default.createFile(atPath: output, contents: nil)
            let child = Process()
            child.executableURL = executable
            child.arguments = [database]
            child.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
            try child.run()
            try await Self.waitForReady(output, child: child)
            try await Task.sleep(for: .milliseconds(Int.random(in: 5...120, using: &generator)))
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            #expect(child.terminationReason == .uncaughtSignal && child.terminationStatus == SIGKILL)
            let lines = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n")
            acknowledged.formUnion(lines.dropFirst().compactMap { Int64($0) })

            let store = try await DLAStore.open(path: database)
            #expect(try await store.integrityCheck() == ["ok"])
            await store.close()
            let stored = try Self.storedIDs(database)
            let missing = acknowledged.subtracting(stored)
            #expect(missing.isEmpty, "round \(round): \(missing.count) acknowledged rows missing, e.g. \(missing.sorted().prefix(5))")
        }
        #expect(acknowledged.count > Self.kills, "the child wrote too little to test anything")
    }

    static func waitForReady(_ output: String, child: Process) async throws {
        for _ in 0..<2000 {
            if let text = try? String(contentsOfFile: output, encoding: .utf8), text.hasPrefix("ready\n") { return }
            if !child.isRunning { throw DLAStoreError.invalidArgument("dlad-store-torture exited before it was ready") }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw DLAStoreError.invalidArgument("dlad-store-torture: expected ready within 10 s, found nothing")
    }

    static func storedIDs(_ path: String) throws -> Set<Int64> {
        let connection = try SQLiteConnection(path: path, create: false)
        let statement = try connection.prepare("SELECT id FROM inferences")
        var ids = Set<Int64>()
        while try statement.step() { ids.insert(statement.int64(0)) }
        return ids
    }
}
