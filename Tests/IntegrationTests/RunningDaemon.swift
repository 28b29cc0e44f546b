import DLAClient
import Foundation

/// A real `dlad` process on a temporary state directory and socket, as an operator starts it.
final class RunningDaemon {
    let directory: TemporaryDirectory
    let socket: String
    let state: String
    let process = Process()
    let logPath: String

    /// Starts dlad and waits until its socket answers /v1/health (at most 60 s).
    init(directory: TemporaryDirectory, firmware: String? = FirmwareModelsPath.directory, extra: [String] = []) throws {
        self.directory = directory
        let run = directory.file("run")
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        socket = run + "/dlad.sock"
        state = directory.file("state")
        process.executableURL = URL(fileURLWithPath: try Executables.path(of: "dlad"))
        process.arguments = ["--state-dir", state, "--socket", socket, "--firmware-models", firmware ?? directory.file("none")] + extra
        process.environment = ["PATH": "/usr/bin:/bin"]
        logPath = directory.file("dlad-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let logFile = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = logFile
        process.standardError = logFile
        try process.run()
        try logFile.close()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if !process.isRunning { throw DaemonFailure("dlad exited with \(process.terminationStatus): \(log)") }
            if (try? DLAClient(socketPath: socket).health()) != nil { return }
            usleep(50_000)
        }
        kill(process.processIdentifier, SIGKILL)
        throw DaemonFailure("dlad did not answer on \(socket) within 60 s")
    }

    /// Everything dlad printed so far (stdout and stderr).
    var log: String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }

    func client() -> DLAClient { DLAClient(socketPath: socket) }

    /// Sends `signal` and waits for the exit status (SIGKILL after 30 s).
    @discardableResult
    func stop(_ signal: Int32 = SIGTERM) -> (status: Int32, output: String) {
        kill(process.processIdentifier, signal)
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return (process.terminationStatus, log)
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

struct DaemonFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

enum FirmwareModelsPath {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let directory = repository + "/firmware-models"
    static let sampleInputs = directory + "/samples/lenet-300-100/inputs.npy"
}
