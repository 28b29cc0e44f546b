import DLAAPI
import Foundation
@testable import DLADaemon
import DLAFormat
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// The HTTP layer on an in-memory channel: raw bytes in, raw bytes out, no socket.
@Suite struct HTTPConnectionHandlerTests {
    /// A thread-safe in-memory channel: answers come back from the engine and the store writer on
    /// their own threads, which `EmbeddedChannel`'s loop does not allow.
    private func channel(_ bed: APITestBed, peer: PeerIdentity = APITestBed.admin, pipelinedByteCap: Int = 1 << 20) async throws -> NIOAsyncTestingChannel {
        let api = bed.api
        return try await NIOAsyncTestingChannel { channel in
            try HTTPConnectionHandler.configure(channel.pipeline.syncOperations, api: api, peer: peer, pipelinedByteCap: pipelinedByteCap)
        }
    }

    /// Counts the reads that reach the head of the pipeline (the socket).
    private final class ReadCounter: ChannelOutboundHandler, @unchecked Sendable {
        typealias OutboundIn = NIOAny
        var reads = 0
        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }
    }

    private func statuses(_ text: String) -> [String] {
        text.components(separatedBy: "HTTP/1.1 ").dropFirst().map { String($0.prefix(3)) }
    }

    /// Everything written so far, after letting the API's task hop back to the loop.
    private func output(_ channel: NIOAsyncTestingChannel, tries: Int = 2000, until done: (String) -> Bool) async throws -> String {
        var text = ""
        for _ in 0..<tries {
            await channel.testingEventLoop.run()
            while let buffer = try await channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
            if done(text) { return text }
            try await Task.sleep(for: .milliseconds(2))
        }
        return text
    }

    @Test func keepAliveRequestsAreAnsweredInOrder() async throws {
        let bed = try await APITestBed()
        let channel = try await channel(bed)
        try await channel.writeInbound(ByteBuffer(string: "GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/nothing HTTP/1.1\r\nHost: x\r\n\r\n"))
        let text = try await output(channel) { $0.components(separatedBy: "HTTP/1.1 ").count == 3 && $0.hasSuffix("}\n") }
        let answers = text.components(separatedBy: "HTTP/1.1 ").dropFirst()
        #expect(answers.first?.hasPrefix("200 OK") == true)
        #expect(answers.last?.hasPrefix("404 Not Found") == true)
        #expect(!text.lowercased().contains("connection: close"))
        _ = try? await channel.finish()
        await bed.close()
    }

    /// Random pipelines of valid requests (no body, a Content-Length body, a chunked body), cut
    /// into random pieces as a socket may deliver them: every request is answered, in order.
    /// The seed is in every failure; `HTTP_FUZZ_SEED` replays it.
    @Test func randomPipelinesCutAnywhereAreAnsweredInOrder() async throws {
        let seed = ProcessInfo.processInfo.environment["HTTP_FUZZ_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64.max)
        var random = APIRobustnessTests.SeededGenerator(state: seed)
        let bed = try await APITestBed()
        #expect(await bed.push("digits", try APITestBed.firmware("lenet-300-100-int8.dla")).status == 201)
        let npy = try APITestBed.sampleNPY()
        for round in 0..<30 {
            var stream: [UInt8] = []
            var expected: [String] = []
            for _ in 0..<Int.random(in: 1...6, using: &random) {
                switch Int.random(in: 0..<4, using: &random) {
                case 0:
                    stream += Array("GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
                    expected.append("200")
                case 1:
                    stream += Array("GET /v1/models/nope HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
                    expected.append("404")
                case 2:
                    stream += Array("POST /v1/models/digits/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-npy\r\nContent-Length: \(npy.count)\r\n\r\n".utf8) + npy
                    expected.append("200")
                default:
                    stream += Array("POST /v1/models/digits/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-npy\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
                    var offset = 0
                    while offset < npy.count {
                        let size = min(Int.random(in: 1...2048, using: &random), npy.count - offset)
                        stream += Array((String(size, radix: 16) + "\r\n").utf8) + npy[offset..<(offset + size)] + Array("\r\n".utf8)
                        offset += size
                    }
                    stream += Array("0\r\n\r\n".utf8)
                    expected.append("200")
                }
            }
            let channel = try await channel(bed)
            var offset = 0
            while offset < stream.count {
                let end = min(stream.count, offset + Int.random(in: 1...max(1, stream.count / 3), using: &random))
                try await channel.writeInbound(ByteBuffer(bytes: stream[offset..<end]))
                offset = end
            }
            let text = try await output(channel) { self.statuses($0).count >= expected.count }
            #expect(statuses(text) == expected, "seed \(seed), round \(round)")
            _ = try? await channel.finish()
        }
        await bed.close()
    }

    /// Requests pipelined behind a pending answer (bodies included) are answered in order
    /// once it is written; past the cap, reads are withheld until the replay drains them.
    @Test func pipelinedRequestsWaitInOrderAndReadsStopPastTheCap() async throws {
        let bed = try await APITestBed()
        #expect(await bed.push("digits", try APITestBed.firmware("lenet-300-100-int8.dla")).status == 201)
        let one = try APITestBed.sampleNPY()
        let channel = try await channel(bed, pipelinedByteCap: 6000)
        let counter = ReadCounter()
        try await channel.pipeline.addHandler(counter, position: .first)

        bed.pool.freeze(core: 0)
        var infer = ByteBuffer(string: "POST /v1/models/digits/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-npy\r\nContent-Length: \(one.count)\r\n\r\n")
        infer.writeBytes(one)
        try await channel.writeInbound(infer)
        while bed.pool.snapshot.busy == 0 { try await Task.sleep(for: .milliseconds(2)) }
        // Behind the held inference: a second inference with its body, then small requests
        // until more than the cap is waiting.
        try await channel.writeInbound(infer)
        // Under the cap, reads go on while an answer is pending (no epoll change per request).
        var reads = counter.reads
        channel.pipeline.read()
        await channel.testingEventLoop.run()
        #expect(counter.reads == reads + 1)
        for index in 0..<12 {
            try await channel.writeInbound(ByteBuffer(string: "GET /v1/models/m\(index) HTTP/1.1\r\nHost: x\r\n\r\n"))
        }
        reads = counter.reads
        channel.pipeline.read()
        await channel.testingEventLoop.run()
        #expect(counter.reads == reads, "a read passed while over the cap")
        #expect(try await output(channel, tries: 25) { !$0.isEmpty }.isEmpty, "an answer went out before the held one")

        bed.pool.thaw(core: 0)
        let text = try await output(channel) { self.statuses($0).count == 14 && $0.hasSuffix("}\n") }
        #expect(statuses(text) == ["200", "200"] + Array(repeating: "404", count: 12), "\(statuses(text))")
        #expect(counter.reads == reads + 1, "the withheld read was not issued")
        _ = try? await channel.finish()
        await bed.close()
    }

    @Test func expectContinueIsAnsweredBeforeTheBody() async throws {
        let bed = try await APITestBed()
        let channel = try await channel(bed)
        try await channel.writeInbound(ByteBuffer(string: "POST /v1/models/m/versions HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"))
        let interim = try await output(channel) { $0.contains("\r\n\r\n") }
        #expect(interim.hasPrefix("HTTP/1.1 100 Continue"))
        try await channel.writeInbound(ByteBuffer(string: "abcde"))
        let final = try await output(channel) { $0.contains("}\n") }
        #expect(final.hasPrefix("HTTP/1.1 422"), "\(final)")
        #expect(bed.uploadsLeft.isEmpty)
        _ = try? await channel.finish()
        await bed.close()
    }

    @Test func refusalsBeforeTheBodyCloseTheConnection() async throws {
        let bed = try await APITestBed(maxUploadBytes: 1000)
        let tooLarge = try await channel(bed)
        try await tooLarge.writeInbound(ByteBuffer(string: "POST /v1/models/m/versions HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"))
        let text = try await output(tooLarge) { $0.contains("}\n") }
        #expect(text.hasPrefix("HTTP/1.1 413") && text.lowercased().contains("connection: close"))
        #expect(bed.uploadsLeft.isEmpty)

        let forbidden = try await channel(bed, peer: APITestBed.member)
        try await forbidden.writeInbound(ByteBuffer(string: "POST /v1/models/m/versions HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n"))
        #expect(try await output(forbidden) { $0.contains("}\n") }.hasPrefix("HTTP/1.1 403"))

        // A chunked upload is cut off at the cap while it streams, and its file removed.
        let streamed = try await channel(bed)
        try await streamed.writeInbound(ByteBuffer(string: "POST /v1/models/m/versions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"))
        let chunk = String(repeating: "x", count: 800)
        try await streamed.writeInbound(ByteBuffer(string: "320\r\n\(chunk)\r\n"))
        try await streamed.writeInbound(ByteBuffer(string: "320\r\n\(chunk)\r\n"))
        #expect(try await output(streamed) { $0.contains("}\n") }.hasPrefix("HTTP/1.1 413"))
        #expect(bed.uploadsLeft.isEmpty)
        for channel in [tooLarge, forbidden, streamed] { _ = try? await channel.finish() }
        await bed.close()
    }

    @Test func malformedHTTPGets400() async throws {
        let bed = try await APITestBed()
        let channel = try await channel(bed)
        _ = try? await channel.writeInbound(ByteBuffer(string: "NOT HTTP AT ALL\r\n\r\n"))
        #expect(try await output(channel) { !$0.isEmpty }.hasPrefix("HTTP/1.1 400"))
        _ = try? await channel.finish()
        await bed.close()
    }
}
