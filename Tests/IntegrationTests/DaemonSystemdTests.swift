import DLAClient
import DLAFormat
import Foundation
import Synchronization
import Testing

/// dlad as systemd sees it: a datagram socket stands in for NOTIFY_SOCKET, and Debian's
/// systemd-socket-activate hands dlad its listening socket.
@Suite(.serialized) struct DaemonSystemdTests {
    /// Receives sd_notify datagrams on a socket of the test's own.
    final class NotifySocket: Sendable {
        let path: String
        private let fd: Int32
        private let received = Mutex<[(Date, String)]>([])

        init(path: String) throws {
            self.path = path
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            guard UnixSocketAddress.bind(fd, to: path) else { throw DaemonFailure("cannot bind \(path)") }
            var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let descriptor = fd
            Thread.detachNewThread { [self] in
                var buffer = [UInt8](repeating: 0, count: 4096)
                while true {
                    let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
                    if count > 0 {
                        let text = String(decoding: buffer[0..<count], as: UTF8.self)
                        received.withLock { $0.append((Date(), text)) }
                    } else if count == 0 || (errno != EAGAIN && errno != EINTR) {
                        return
                    }
                }
            }
        }

        var messages: [(Date, String)] { received.withLock { $0 } }

        func count(_ assignment: String, since: Date = .distantPast) -> Int {
            messages.filter { $0.0 >= since && $0.1.split(separator: "\n").contains(Substring(assignment)) }.count
        }

        func waitFor(_ assignment: String, seconds: Double = 30) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if count(assignment) > 0 { return true }
                usleep(20_000)
            }
            return false
        }

        deinit {
            shutdown(fd, Int32(SHUT_RDWR))
            close(fd)
        }
    }

    @Test func readyStatusWatchdogAndStoppingAndNoPingsWhileAnEngineIsFrozen() throws {
        let directory = try TemporaryDirectory()
        let notify = try NotifySocket(path: directory.file("notify.sock"))
        let run = directory.file("run")
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        let socket = run + "/dlad.sock"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Executables.path(of: "dlad"))
        process.arguments = ["--state-dir", directory.file("state"), "--socket", socket, "--firmware-models", FirmwareModelsPath.directory,
                             "--set", "fault_injection=true", "--set", "request_timeout_ms=300", "--engines", "1"]
        process.environment = ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "1000000", "PATH": "/usr/bin:/bin"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

        #expect(notify.waitFor("READY=1"))
        let ready = notify.messages.first { $0.1.contains("READY=1") }?.1 ?? ""
        #expect(ready.contains("STATUS=serving 4 models, 0 inferences, queue 0"), "\(ready)")
        usleep(2_600_000)
        #expect(notify.count("WATCHDOG=1") >= 4)

        // Freeze the only core, send a request it holds past its 300 ms deadline: no more pings.
        let client = DLAClient(socketPath: socket)
        _ = try client.send("POST", "/v1/debug/freeze-engine?core=0")
        let sample = try Data(contentsOf: URL(fileURLWithPath: FirmwareModelsPath.sampleInputs))
        let held = Mutex<Int>(0)
        Thread.detachNewThread {
            let status = (try? DLAClient(socketPath: socket).send("POST", "/v1/models/lenet-300-100/infer", contentType: "application/x-npy", body: [UInt8](sample)))?.status ?? -1
            held.withLock { $0 = status }
        }
        // Once the core counts as stuck (its batch past the deadline; polled, since a loaded
        // machine may take a while to get the request there), the watchdog falls silent.
        let deadline = Date().addingTimeInterval(15)
        var health = try client.health()
        while !health.reasons.contains(where: { $0.contains("stuck") }) && Date() < deadline {
            usleep(50_000)
            health = try client.health()
        }
        #expect(health.status == "degraded" && health.reasons.contains { $0.contains("stuck") }, "\(health.reasons)")
        // A check that began just before the core became stuck may still ping, one interval (0.5 s) on.
        usleep(600_000)
        let frozenSince = Date()
        usleep(2_000_000)
        #expect(notify.count("WATCHDOG=1", since: frozenSince) == 0)

        _ = try client.send("POST", "/v1/debug/thaw-engine?core=0")
        let thawed = Date()
        usleep(1_500_000)
        #expect(notify.count("WATCHDOG=1", since: thawed) >= 1)
        #expect(held.withLock { $0 } == 504)

        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(notify.count("STOPPING=1") == 1)
        let order = notify.messages.map(\.1)
        #expect(order.firstIndex { $0.contains("READY=1") }! < order.firstIndex { $0.contains("STOPPING=1") }!)
    }

    /// SIGHUP rereads the file and the trusted keys: a signature requirement turned on refuses
    /// the next unsigned push, and systemd hears RELOADING=1, then READY=1.
    @Test func sighupReloadsSignaturePolicyAndTrustedKeys() throws {
        let directory = try TemporaryDirectory()
        let notify = try NotifySocket(path: directory.file("notify.sock"))
        let keys = directory.file("keys")
        try FileManager.default.createDirectory(atPath: keys, withIntermediateDirectories: true)
        let config = directory.file("dlad.toml")
        func writeConfig(requireSignatures: Bool) throws {
            let text = """
                state_dir = "\(directory.file("state"))"
                socket = "\(directory.file("dlad.sock"))"
                firmware_models = "\(directory.file("none"))"
                trusted_keys_dir = "\(keys)"
                require_signatures = \(requireSignatures)
                """
            try text.write(toFile: config, atomically: true, encoding: .utf8)
        }
        try writeConfig(requireSignatures: false)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Executables.path(of: "dlad"))
        process.arguments = ["--config", config]
        process.environment = ["NOTIFY_SOCKET": notify.path, "PATH": "/usr/bin:/bin"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        #expect(notify.waitFor("READY=1"))
        let client = DLAClient(socketPath: directory.file("dlad.sock"))
        let model = [UInt8](try Data(contentsOf: URL(fileURLWithPath: FirmwareModelsPath.directory + "/lenet-5-int8.dla")))
        #expect(try client.push(name: "before", bytes: model, activate: false).created)

        let keygen = try Executables.run("dlactl", ["keygen", "-o", keys + "/signer.key"])
        #expect(keygen.status == 0, "\(keygen.stderr)")
        try writeConfig(requireSignatures: true)
        kill(process.processIdentifier, SIGHUP)
        let deadline = Date().addingTimeInterval(10)
        while notify.count("READY=1") < 2 && Date() < deadline { usleep(20_000) }
        let messages = notify.messages.map(\.1)
        let reloading = messages.firstIndex { $0.contains("RELOADING=1") }
        let readyAgain = messages.lastIndex { $0.contains("READY=1") }
        #expect(reloading != nil && readyAgain != nil && reloading! < readyAgain!)

        do {
            _ = try client.push(name: "after", bytes: model, activate: false)
            Issue.record("an unsigned push was accepted after the reload")
        } catch {
            if case .server(let status, _, let message) = error { #expect(status == 422 && message.contains("signature"), "\(message)") }
        }
        let signed = directory.file("signed.dla")
        try Data(model).write(to: URL(fileURLWithPath: signed))
        let sign = try Executables.run("dlactl", ["push", signed, "--name", "after", "--socket", directory.file("dlad.sock")])
        #expect(sign.status == 1)
        let key = try DLASigningKey.load(path: keys + "/signer.key")
        #expect(try client.push(name: "after", bytes: try DLAFile.sign(model, with: key), activate: false).created)
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }

    /// The first connection is made before dlad runs: systemd-socket-activate holds the socket,
    /// starts dlad on it, and the queued request is answered.
    @Test func socketActivationQueuesTheFirstConnection() throws {
        let activator = "/usr/bin/systemd-socket-activate"
        guard FileManager.default.isExecutableFile(atPath: activator) else {
            Issue.record("systemd-socket-activate is missing (Debian package systemd; make test installs it)")
            return
        }
        let directory = try TemporaryDirectory()
        let socket = directory.file("activated.sock")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: activator)
        process.arguments = ["--listen=" + socket, "--fdname=dlad.sock", try Executables.path(of: "dlad"),
                             "--state-dir", directory.file("state"), "--socket", directory.file("unused.sock"),
                             "--firmware-models", FirmwareModelsPath.directory]
        let log = directory.file("activate.log")
        FileManager.default.createFile(atPath: log, contents: nil)
        let logFile = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = logFile
        process.standardError = logFile
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        let deadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: socket) && Date() < deadline { usleep(20_000) }
        let health = try DLAClient(socketPath: socket).health()
        #expect(health.status == "ok" && health.models == 4)
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(text.contains("serving on the socket passed by systemd"), "\(text)")
        #expect(!FileManager.default.fileExists(atPath: directory.file("unused.sock")))
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }
}
