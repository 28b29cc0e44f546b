import DLAAPI
@testable import DLADaemon
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// The HTTP layer on an in-memory channel: raw bytes in, raw bytes out, no socket.
@Suite struct HTTPConnectionHandlerTests {
    private func channel(_ bed: APITestBed, peer: PeerIdentity = APITestBed.admin) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
        try channel.pipeline.syncOperations.addHandler(HTTPConnectionHandler(api: bed.api, peer: peer))
        return channel
    }

    /// Everything written so far, after letting the API's task hop back to the loop.
    private func output(_ channel: EmbeddedChannel, until done: (String) -> Bool) async throws -> String {
        var text = ""
        for _ in 0..<2000 {
            channel.embeddedEventLoop.run()
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
            if done(text) { return text }
            try await Task.sleep(for: .milliseconds(2))
        }
        return text
    }

    @Test func keepAliveRequestsAreAnsweredInOrder() async throws {
        let bed = try await APITestBed()
        let channel = try channel(bed)
        try channel.writeInbound(ByteBuffer(string: "GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/nothing HTTP/1.1\r\nHost: x\r\n\r\n"))
        let text = try await output(channel) { $0.components(separatedBy: "HTTP/1.1 ").count == 3 && $0.hasSuffix("}\n") }
        let answers = text.components(separatedBy: "HTTP/1.1 ").dropFirst()
        #expect(answers.first?.hasPrefix("200 OK") == true)
        #expect(answers.last?.hasPrefix("404 Not Found") == true)
        #expect(!text.lowercased().contains("connection: close"))
        _ = try? channel.finish()
        await bed.close()
    }

    @Test func expectContinueIsAnsweredBeforeTheBody() async throws {
        let bed = try await APITestBed()
        let channel = try channel(bed)
        try channel.writeInbound(ByteBuffer(string: "POST /v1/models/m/versions HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"))
        let interim = try await output(channel) { $0.contains("\r\n\r\n") }
        #expect(interim.hasPrefix("HTTP/1.1 100 Continue"))
        try channel.writeInbound(ByteBuffer(string: "abcde"))
        let final = try await output(channel) { $0.contains("}\n") }
        #expect(final.hasPrefix("HTTP/1.1 422"), "\(final)")
        #expect(bed.uploadsLeft.isEmpty)
        _ = try? channel.finish()
        await bed.close()
    }

    @Test func refusalsBeforeTheBodyCloseTheConnection() async throws {
        let bed = try await APITestBed(maxUploadBytes: 1000)
        let tooLarge = try channel(bed)
        try tooLarge.writeInbound(ByteBuffer(string: "POST /v1/models/m/versions HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"))
        let text = try await output(tooLarge) { $0.contains("}\n") }
        #expect(text.hasPrefix("HTTP/1.1 413") && text.lowercased().contains("connection: close"))
        #expect(bed.uploadsLeft.isEmpty)

        let forbidden = try channel(bed, peer: APITestBed.member)
        try forbidden.writeInbound(ByteBuffer(string: "POST /v1/models/m/versions HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n"))
        #expect(try await output(forbidden) { $0.contains("}\n") }.hasPrefix("HTTP/1.1 403"))

        // A chunked upload is cut off at the cap while it streams, and its file removed.
        let streamed = try channel(bed)
        try streamed.writeInbound(ByteBuffer(string: "POST /v1/models/m/versions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"))
        let chunk = String(repeating: "x", count: 800)
        try streamed.writeInbound(ByteBuffer(string: "320\r\n\(chunk)\r\n"))
        try streamed.writeInbound(ByteBuffer(string: "320\r\n\(chunk)\r\n"))
        #expect(try await output(streamed) { $0.contains("}\n") }.hasPrefix("HTTP/1.1 413"))
        #expect(bed.uploadsLeft.isEmpty)
        for channel in [tooLarge, forbidden, streamed] { _ = try? channel.finish() }
        await bed.close()
    }

    @Test func malformedHTTPGets400() async throws {
        let bed = try await APITestBed()
        let channel = try channel(bed)
        _ = try? channel.writeInbound(ByteBuffer(string: "NOT HTTP AT ALL\r\n\r\n"))
        #expect(try await output(channel) { !$0.isEmpty }.hasPrefix("HTTP/1.1 400"))
        _ = try? channel.finish()
        await bed.close()
    }
}
