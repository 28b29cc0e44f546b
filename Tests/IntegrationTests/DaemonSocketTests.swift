import DLAAPI
import DLAClient
import DLAFormat
import Foundation
import Synchronization
import Testing

/// dlad on a real socket, driven by dlactl, curl and raw bytes, as users and tools drive it.
@Suite(.serialized) struct DaemonSocketTests {
    @Test func pushActivateInferHistoryThroughDlactlAndCurl() throws {
        let directory = try TemporaryDirectory()
        let daemon = try RunningDaemon(directory: directory)
        let environment = ["DLAD_SOCKET": daemon.socket]
        let models = try Executables.run("dlactl", ["models"], environment: environment)
        #expect(models.status == 0 && models.stdout.contains("lenet-300-100 ") && models.stdout.contains("lenet-5 "), "\(models.stderr)")

        let pushed = try Executables.run("dlactl", ["push", FirmwareModelsPath.directory + "/lenet-300-100-int8.dla", "--name", "digits", "--activate"], environment: environment)
        #expect(pushed.status == 0 && pushed.stdout.contains("digits: pushed as v1, active"), "\(pushed.stderr)")

        let served = directory.file("served.npy")
        let offline = directory.file("offline.npy")
        let infer = try Executables.run("dlactl", ["infer", "digits", "--input", FirmwareModelsPath.sampleInputs, "--output", served], environment: environment)
        #expect(infer.status == 0, "\(infer.stderr)")
        let run = try Executables.run("dlactl", ["run", FirmwareModelsPath.directory + "/lenet-300-100-int8.dla", "--input", FirmwareModelsPath.sampleInputs, "--output", offline])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: served)) == Data(contentsOf: URL(fileURLWithPath: offline)))

        let history = try Executables.run("dlactl", ["history", "--model", "digits", "--ndjson"], environment: environment)
        let rows = history.stdout.split(separator: "\n")
        #expect(rows.count == 1 && rows[0].contains("\"batchSize\":200") && rows[0].contains("\"status\":\"ok\""), "\(history.stdout)\(history.stderr)")

        // A journal line's REQUEST_ID leads to its row; the message, commas and all, is one CSV field.
        let refused = try Executables.runTool("/usr/bin/curl", ["-s", "-D", "-", "--unix-socket", daemon.socket, "-H", "Content-Type: application/json",
                                                               "--data", #"{"inputs": [[1, 2]]}"#, "http://localhost/v1/models/digits/infer"])
        let requestID = try #require(refused.stdout.split(separator: "\r\n").first { $0.lowercased().hasPrefix("x-request-id: ") }).dropFirst(14)
        let found = try Executables.run("dlactl", ["history", "--request-id", String(requestID), "--csv"], environment: environment)
        let csv = found.stdout.split(separator: "\n")
        #expect(csv.count == 2 && csv[0].hasSuffix(",request_id,error")
                    && csv[1].hasSuffix(",\(requestID),\"input 'input': expected shape [N, 784], got [1, 2]\""), "\(found.stdout)\(found.stderr)")

        let curl = try Executables.runTool("/usr/bin/curl", ["-s", "--unix-socket", daemon.socket, "http://localhost/v1/health"])
        #expect(curl.status == 0 && curl.stdout.contains("\"status\":\"ok\""), "\(curl.stdout)\(curl.stderr)")
        // curl sends Expect: 100-continue for bodies over 1 MB; a 2 MB garbage push is answered, not hung.
        let big = directory.file("big.dla")
        try Data(repeating: 0x41, count: 2 << 20).write(to: URL(fileURLWithPath: big))
        let bigPush = try Executables.runTool("/usr/bin/curl", ["-s", "--max-time", "30", "--unix-socket", daemon.socket, "-H", "Content-Type: application/octet-stream",
                                                               "--data-binary", "@" + big, "http://localhost/v1/models/junk/versions"])
        #expect(bigPush.stdout.contains("\"invalid_model\""), "\(bigPush.stdout)\(bigPush.stderr)")

        let unknown = try Executables.run("dlactl", ["infer", "nosuch", "--input", FirmwareModelsPath.sampleInputs], environment: environment)
        #expect(unknown.status == 1 && unknown.stderr == "error: no model named 'nosuch'\n")
        let stopped = daemon.stop()
        #expect(stopped.status == 0 && stopped.output.contains("received SIGTERM, shutting down") && stopped.output.contains("dlad: stopped"))
    }

    @Test func malformedAndTruncatedRequestsLeaveNothingBehind() throws {
        let directory = try TemporaryDirectory()
        let daemon = try RunningDaemon(directory: directory)
        #expect(try RawSocket.exchange(daemon.socket, "GARBAGE\r\n\r\n").hasPrefix("HTTP/1.1 400"))
        // An upload cut off halfway: the connection drops, no file stays, the registry is unchanged.
        let model = try Data(contentsOf: URL(fileURLWithPath: FirmwareModelsPath.directory + "/lenet-5-int8.dla"))
        let head = "POST /v1/models/cut/versions HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: \(model.count)\r\n\r\n"
        _ = try RawSocket.exchange(daemon.socket, head, body: Array(model.prefix(model.count / 2)), readAnswer: false)
        usleep(200_000)
        #expect(throws: DLAClientError.self) { try daemon.client().model("cut") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: daemon.state + "/uploads").isEmpty)
        let health = try daemon.client().health()
        #expect(health.status == "ok")
        daemon.stop()
    }

    /// Acknowledged means persisted: a daemon killed with SIGKILL under load from 8 clients
    /// has every inference it answered in its history after a restart.
    @Test func everyAcknowledgedInferenceSurvivesSIGKILL() throws {
        let directory = try TemporaryDirectory()
        let daemon = try RunningDaemon(directory: directory)
        let sample = try NPY.read(path: FirmwareModelsPath.sampleInputs)
        let one = NPY.write(try NPYArray(float32: Array(sample.asFloat32().prefix(784)), shape: [1, 784]))
        let acknowledged = Mutex<Set<Int64>>([])
        let socket = daemon.socket
        let stop = Date().addingTimeInterval(1.5)
        let group = DispatchGroup()
        for _ in 0..<8 {
            group.enter()
            Thread.detachNewThread {
                let client = DLAClient(socketPath: socket)
                while Date() < stop {
                    guard let response = try? client.infer(name: "lenet-300-100", npy: one, version: nil, acceptNPY: true),
                          let id = response.header("x-inference-id").flatMap(Int64.init) else { break }
                    acknowledged.withLock { _ = $0.insert(id) }
                }
                group.leave()
            }
        }
        usleep(1_000_000)
        daemon.stop(SIGKILL)
        group.wait()
        let ids = acknowledged.withLock { $0 }
        #expect(ids.count > 0)
        let restarted = try RunningDaemon(directory: directory)
        let client = restarted.client()
        let missing = ids.filter { (try? client.inference(id: $0)) == nil }
        #expect(missing.isEmpty, "acknowledged but lost: \(missing.prefix(10)) of \(ids.count)")
        restarted.stop()
    }
}

/// Raw bytes over the socket, for requests no well-behaved client sends.
enum RawSocket {
    static func exchange(_ path: String, _ head: String, body: [UInt8] = [], readAnswer: Bool = true) throws -> String {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        guard UnixSocketAddress.connect(fd, to: path) else { throw DaemonFailure("cannot connect to \(path)") }
        let bytes = Array(head.utf8) + body
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard readAnswer else { return "" }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var answer = [UInt8](repeating: 0, count: 65536)
        let count = answer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return count > 0 ? String(decoding: answer[0..<count], as: UTF8.self) : ""
    }
}
