import DLAClient
import Foundation
import Testing

/// dlactl's HTTP client against a socket that answers with a malformed chunked body: an error,
/// never a crash of the client.
@Suite struct ClientMalformedResponseTests {
    /// Accepts one connection on `path`, reads the request head, writes `reply` and closes.
    private static func serveOnce(at path: String, reply: String) throws -> Thread {
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard UnixSocketAddress.bind(listener, to: path), listen(listener, 1) == 0 else { throw DaemonFailure("cannot listen on \(path)") }
        let thread = Thread {
            let connection = accept(listener, nil, nil)
            var buffer = [UInt8](repeating: 0, count: 4096)
            var received: [UInt8] = []
            while !String(decoding: received, as: UTF8.self).contains("\r\n\r\n") {
                let count = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
                if count <= 0 { break }
                received += buffer[0..<count]
            }
            let bytes = Array(reply.utf8)
            _ = bytes.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            close(connection)
            close(listener)
        }
        thread.start()
        return thread
    }

    @Test(arguments: ["\r\n", ";\r\n", ";ext=1\r\n", "zz\r\n", "-5\r\n"])
    func aMalformedChunkSizeIsAnError(sizeLine: String) throws {
        let path = FileManager.default.temporaryDirectory.path + "/dlactl-chunk-\(UInt32.random(in: 0...UInt32.max)).sock"
        defer { unlink(path) }
        _ = try Self.serveOnce(at: path, reply: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + sizeLine + "abc\r\n0\r\n\r\n")
        #expect(throws: DLAClientError.self) {
            try DLAClient(socketPath: path).send("GET", "/v1/health")
        }
    }
}
