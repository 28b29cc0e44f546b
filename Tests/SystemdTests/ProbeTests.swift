import Foundation
import Testing
@testable import Systemd

/// What systemd sets up for a service (environment, a socket at fd 3) applied to a child process,
/// `dlad-systemd-probe`, which runs the module's code there and prints what it found.
@Suite struct ProbeTests {
    struct ProbeResult {
        let status: Int32
        let standardOutput: String
        let standardError: String
    }

    static func probeExecutable() throws -> String {
        let selfPath = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: selfPath).deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("dlad-systemd-probe").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory.deleteLastPathComponent()
        }
        throw ProbeError("dlad-systemd-probe: expected next to \(selfPath) (build all targets first), found nothing")
    }

    struct ProbeError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Spawns the probe with exactly this environment, `socketAtFD3` duplicated onto fd 3, and its
    /// output in files; waits without blocking a thread of the cooperative pool.
    /// With `journalStreamIsStderr`, `$JOURNAL_STREAM` names the probe's stderr, as systemd sets it.
    static func runProbe(
        _ arguments: [String], environment: [String: String], socketAtFD3: Int32? = nil, journalStreamIsStderr: Bool = false
    ) async throws -> ProbeResult {
        let executable = try probeExecutable()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dlad-probe-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outputPath = directory.appendingPathComponent("stdout").path
        let errorPath = directory.appendingPathComponent("stderr").path

        var environment = environment
        if journalStreamIsStderr {
            // O_TRUNC below keeps the file, so its device and inode stay what they are now.
            guard FileManager.default.createFile(atPath: errorPath, contents: nil) else { throw ProbeError("cannot create \(errorPath)") }
            var status = stat()
            guard stat(errorPath, &status) == 0 else { throw ProbeError("cannot stat \(errorPath)") }
            environment["JOURNAL_STREAM"] = "\(status.st_dev):\(status.st_ino)"
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var highCopy: Int32 = -1
        if let socketAtFD3 {
            // A copy above 3, so that dup2 onto 3 always makes a fresh descriptor without close-on-exec.
            highCopy = fcntl(socketAtFD3, F_DUPFD_CLOEXEC, 100)
            guard highCopy >= 0 else { throw ProbeError("dup: \(String(cString: strerror(errno)))") }
            posix_spawn_file_actions_adddup2(&actions, highCopy, 3)
        }
        defer { if highCopy >= 0 { close(highCopy) } }

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard spawned == 0 else { throw ProbeError("posix_spawn: \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        let deadline = ContinuousClock.now + .seconds(20)
        while waitpid(pid, &status, WNOHANG) == 0 {
            if ContinuousClock.now > deadline {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                throw ProbeError("dlad-systemd-probe \(arguments) did not exit within 20 s")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        let exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return ProbeResult(
            status: exitStatus,
            standardOutput: try String(contentsOfFile: outputPath, encoding: .utf8),
            standardError: try String(contentsOfFile: errorPath, encoding: .utf8))
    }

    /// A listening UNIX stream socket, as dlad.socket would bind.
    static func listeningSocket(at path: String) throws -> Int32 {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8) + [0]) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard descriptor >= 0, bound == 0, listen(descriptor, 8) == 0 else {
            throw ProbeError("cannot listen on \(path): \(String(cString: strerror(errno)))")
        }
        return descriptor
    }

    @Test func adoptsTheListeningSocketSystemdPassedByName() async throws {
        let path = "/tmp/dlad-listen-\(UUID().uuidString.prefix(8)).sock"
        let listener = try Self.listeningSocket(at: path)
        defer {
            close(listener)
            unlink(path)
        }
        let result = try await Self.runProbe(
            ["listen-fds", "dlad.sock"],
            environment: ["LISTEN_FDS": "1", "LISTEN_FDNAMES": "dlad.sock", "PROBE_LISTEN_PID_SELF": "1"],
            socketAtFD3: listener)
        #expect(result.status == 0, "\(result.standardError)")
        // Found by name, and the environment is cleared so that no child adopts it again.
        #expect(result.standardOutput == "fd 3 dlad.sock\nlistening 3\nLISTEN_FDS unset\n")
    }

    @Test func aPassedSocketWithAnotherNameOrNotListeningIsNotAdopted() async throws {
        let path = "/tmp/dlad-listen-\(UUID().uuidString.prefix(8)).sock"
        let listener = try Self.listeningSocket(at: path)
        defer {
            close(listener)
            unlink(path)
        }
        let otherName = try await Self.runProbe(
            ["listen-fds", "dlad.sock"],
            environment: ["LISTEN_FDS": "1", "LISTEN_FDNAMES": "metrics.sock", "PROBE_LISTEN_PID_SELF": "1"],
            socketAtFD3: listener)
        #expect(otherName.standardOutput == "fd 3 metrics.sock\nlistening none\nLISTEN_FDS unset\n")

        var ends: [Int32] = [0, 0]
        try #require(pipe(&ends) == 0)
        defer { ends.forEach { close($0) } }
        let notASocket = try await Self.runProbe(
            ["listen-fds", "dlad.sock"],
            environment: ["LISTEN_FDS": "1", "LISTEN_FDNAMES": "dlad.sock", "PROBE_LISTEN_PID_SELF": "1"],
            socketAtFD3: ends[0])
        #expect(notASocket.standardOutput == "fd 3 dlad.sock\nlistening none\nLISTEN_FDS unset\n")
    }

    @Test func socketsMeantForAnotherProcessAreIgnored() async throws {
        let result = try await Self.runProbe(
            ["listen-fds", "dlad.sock"], environment: ["LISTEN_FDS": "1", "LISTEN_FDNAMES": "dlad.sock", "LISTEN_PID": "1"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput == "listening none\nLISTEN_FDS unset\n")
        let notActivated = try await Self.runProbe(["listen-fds", "dlad.sock"], environment: [:])
        #expect(notActivated.standardOutput == "listening none\nLISTEN_FDS unset\n")
    }

    @Test func aMalformedListenEnvironmentIsAClearError() async throws {
        let result = try await Self.runProbe(
            ["listen-fds", "dlad.sock"], environment: ["LISTEN_FDS": "many", "PROBE_LISTEN_PID_SELF": "1"])
        #expect(result.status == 1)
        #expect(result.standardError.contains("invalid LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES"))
    }

    @Test func watchdogTimeoutComesFromWatchdogUsecForThisProcessOnly() async throws {
        #expect(try await Self.runProbe(["watchdog"], environment: ["WATCHDOG_USEC": "400000"]).standardOutput == "400000\n")
        #expect(try await Self.runProbe(["watchdog"], environment: ["WATCHDOG_USEC": "400000", "WATCHDOG_PID": "1"]).standardOutput == "disabled\n")
        #expect(try await Self.runProbe(["watchdog"], environment: [:]).standardOutput == "disabled\n")
        let malformed = try await Self.runProbe(["watchdog"], environment: ["WATCHDOG_USEC": "soon"])
        #expect(malformed.status == 1 && malformed.standardError.contains("invalid WATCHDOG_USEC"))
    }

    /// The daemon's sequence under systemd: READY with a status, a ping every half of
    /// WATCHDOG_USEC while healthy, none once an engine is stuck, then STOPPING. Timed in a child
    /// process, whose cooperative pool the rest of the suite does not share.
    @Test func readyThenPingsWhileHealthyThenStopping() async throws {
        let listener = try NotifyListener()
        let recording = listener.record(until: { $0.hasPrefix("STOPPING=1") }, timeout: .seconds(120))
        let result = try await Self.runProbe(
            ["lifecycle", "1500"], environment: ["NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "400000"])
        let messages = try await recording.arrivals()
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput == "withheld engine 0 stuck\n")
        #expect(messages.first?.message == "READY=1\nSTATUS=serving")
        #expect(messages.last?.message == "STOPPING=1\nSTATUS=stopping: engine 0 stuck")
        let pings = messages.dropFirst().dropLast()
        #expect(pings.allSatisfy { $0.message == "WATCHDOG=1" })
        // Healthy for 1.5 s at one ping per 200 ms: 7 expected.
        #expect(pings.count >= 4 && pings.count <= 8, "\(pings.count) pings")
        if let first = pings.first, let last = pings.last, pings.count >= 2 {
            let meanInterval = (last.time - first.time) / (pings.count - 1)
            #expect(meanInterval > .milliseconds(150) && meanInterval < .milliseconds(300), "pinged every \(meanInterval)")
        }
    }

    @Test func logsPlainTextOnStderrUnlessStderrIsTheJournal() async throws {
        let unset = try await Self.runProbe(["log", "model activated"], environment: [:])
        #expect(unset.standardOutput == "stderr\n")
        #expect(unset.standardError.hasSuffix(" warning probe: model activated model=lenet5 requestID=42\n"), "\(unset.standardError)")
        let someoneElses = try await Self.runProbe(["log", "model activated"], environment: ["JOURNAL_STREAM": "1:1"])
        #expect(someoneElses.standardOutput == "stderr\n")
        #expect(someoneElses.standardError.contains("model activated"))
        let journal = try await Self.runProbe(["log", "model activated"], environment: [:], journalStreamIsStderr: true)
        #expect(journal.standardOutput == "journal\n")
        #expect(!journal.standardError.contains("model activated"), "went to stderr, not to the journal")
    }
}
