import DLAFormat
import Foundation
import Testing

/// `dlad --once`, run as a process: state directory, database and firmware seeding.
@Suite struct DLADOfflineTests {
    @Test func seedsFirmwareRefusesCorruptFilesAndIsIdempotentAcrossRestarts() throws {
        let directory = try TemporaryDirectory()
        let firmware = directory.file("fw")
        try FileManager.default.createDirectory(atPath: firmware, withIntermediateDirectories: true)
        let good = try DLAFile.write(DLACtlInspectTests.model(), environment: [:])
        var corrupt = good
        corrupt[corrupt.count / 2] ^= 0x5A
        try Data(good).write(to: URL(fileURLWithPath: firmware + "/a.dla"))
        try Data(corrupt).write(to: URL(fileURLWithPath: firmware + "/b.dla"))
        let state = directory.file("state")

        let first = try Executables.run("dlad", ["--state-dir", state, "--firmware-models", firmware, "--once"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("dlad: firmware lenet-test v1 added, activated"))
        #expect(first.stdout.contains("dlad: firmware refused: \(firmware)/b.dla: refused: "))
        #expect(first.stdout.contains("dlad: model lenet-test: 1 version(s), active v1"))
        #expect(FileManager.default.fileExists(atPath: state + "/dlad.sqlite"))

        let second = try Executables.run("dlad", ["--state-dir", state, "--firmware-models", firmware, "--once"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("dlad: firmware lenet-test v1 present"))
        #expect(second.stdout.contains("dlad: model lenet-test: 1 version(s), active v1"))
    }

    @Test func aStateDirectoryThatIsAFileIsOneErrorLine() throws {
        let directory = try TemporaryDirectory()
        let file = directory.file("plain")
        try Data().write(to: URL(fileURLWithPath: file))
        let result = try Executables.run("dlad", ["--state-dir", file, "--once"])
        #expect(result.status == 1)
        #expect(result.stderr == "error: state directory \(file): exists but is not a directory\n")
    }

    @Test func stopsCleanlyOnSIGTERM() throws {
        let directory = try TemporaryDirectory()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Executables.path(of: "dlad"))
        process.arguments = ["--state-dir", directory.file("state"), "--socket", directory.file("dlad.sock"), "--firmware-models", directory.file("none")]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        // A daemon that never reports must fail the test, not hang it: kill it after 30 s.
        DispatchQueue.global().asyncAfter(deadline: .now() + 30) { [process] in
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        var seen = ""
        while !seen.contains("dlad: serving on") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        #expect(seen.contains("dlad: serving on \(directory.file("dlad.sock"))"))
        process.terminate()
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && process.terminationStatus == 0)
        seen += String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(seen.contains("received SIGTERM, shutting down"))
    }
}
