import DLAAPI
import NIOCore
import NIOHTTP1

/// Turns one connection's HTTP/1.1 requests into `APIRequest`s and writes the answers.
///
/// NIO's decoder and encoder (and its error handler, which answers malformed requests with 400)
/// sit before this handler; it answers one request at a time and keeps pipelined requests, in
/// order, until the answer before them is written. (NIO's own pipelining handler does that by
/// withholding reads whenever an answer is pending, which took the socket out of epoll and put it
/// back on every request: two syscalls per request. Reads are withheld here only when more than
/// 1 MiB of requests is waiting.) Model uploads stream to a file as they
/// arrive; every other body is collected in memory up to its cap. A request refused before its
/// body is read (403, 413, 415) is answered at once and the connection closed, so the body is
/// never read.
final class HTTPConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// The handlers of a connection's pipeline, in order (the server and the tests use this).
    static func configure(_ pipeline: ChannelPipeline.SynchronousOperations, api: DaemonAPI, peer: PeerIdentity,
                          pipelinedByteCap: Int = 1 << 20) throws {
        // No outbound header validation: every header dlad writes is its own (names and values
        // are constants, numbers and generated ids; no client text is echoed into one), and the
        // validator was 5 % of an event loop under load.
        try pipeline.configureHTTPServerPipeline(withPipeliningAssistance: false, withErrorHandling: true, withOutboundHeaderValidation: false)
        try pipeline.addHandler(HTTPConnectionHandler(api: api, peer: peer, pipelinedByteCap: pipelinedByteCap))
    }

    private enum State {
        case idle
        case collecting(Started, ByteBuffer)
        case uploading(Started, UploadedFile)
        /// An answer went out before the body was read: drop the rest, then close.
        case refused
        case responding
        /// The last answer said `Connection: close`: whatever follows is dropped.
        case closing
    }

    /// A request whose body is still arriving: its head (version, keep-alive), the API request
    /// parsed from it and its route, both once, in `start`; the body is added when it is complete.
    private struct Started {
        let head: HTTPRequestHead
        let request: APIRequest
        let route: DaemonAPI.Route
    }

    private let api: DaemonAPI
    private let peer: PeerIdentity
    /// Pipelined request bytes kept before reads are withheld.
    private let pipelinedByteCap: Int
    private var state = State.idle
    /// Parts of requests that arrived while an answer was pending (with the bytes each counts
    /// against the cap), replayed in order after it.
    private var pipelined = CircularBuffer<(part: HTTPServerRequestPart, bytes: Int)>()
    private var pipelinedBytes = 0
    /// A read held back because `pipelined` is over its cap, issued once the replay drains it.
    private var readWithheld = false

    init(api: DaemonAPI, peer: PeerIdentity, pipelinedByteCap: Int) {
        self.api = api
        self.peer = peer
        self.pipelinedByteCap = pipelinedByteCap
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch state {
        case .responding:
            keep(part)
        case .closing:
            break
        case .idle, .collecting, .uploading, .refused:
            if pipelined.isEmpty { handle(part, context: context) } else { keep(part) }
        }
    }

    func read(context: ChannelHandlerContext) {
        if pipelinedBytes >= pipelinedByteCap {
            readWithheld = true
        } else {
            context.read()
        }
    }

    private func keep(_ part: HTTPServerRequestPart) {
        let bytes = Self.size(of: part)
        pipelined.append((part, bytes))
        pipelinedBytes += bytes
    }

    private static func size(of part: HTTPServerRequestPart) -> Int {
        switch part {
        case .head(let head): 256 + head.uri.utf8.count + head.headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count }
        case .body(let buffer): buffer.readableBytes
        case .end: 16
        }
    }

    /// Handles kept parts in order until one starts an answer that is still pending.
    private func replayPipelined(context: ChannelHandlerContext) {
        while !pipelined.isEmpty {
            switch state {
            case .responding, .closing: return
            case .idle, .collecting, .uploading, .refused: break
            }
            let (part, bytes) = pipelined.removeFirst()
            pipelinedBytes -= bytes
            handle(part, context: context)
        }
        if readWithheld, pipelinedBytes < pipelinedByteCap {
            readWithheld = false
            context.read()
        }
    }

    private func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            start(head, context: context)
        case .body(var buffer):
            switch state {
            case .collecting(let started, var body):
                guard body.readableBytes + buffer.readableBytes <= api.limits.maxRequestBytes else {
                    refuse(APIResponse.error(.payloadTooLarge, "the request body is over the limit of \(api.limits.maxRequestBytes) bytes (max_request_bytes)"),
                           context: context)
                    return
                }
                // Leaving the state first keeps `body` uniquely referenced: appending does not copy it.
                state = .idle
                body.writeBuffer(&buffer)
                state = .collecting(started, body)
            case .uploading(let started, let file):
                guard file.byteCount + buffer.readableBytes <= api.limits.maxUploadBytes else {
                    file.discard()
                    refuse(APIResponse.error(.payloadTooLarge, "the model is over the upload limit of \(api.limits.maxUploadBytes) bytes (max_upload_bytes)"),
                           context: context)
                    return
                }
                do {
                    try buffer.withUnsafeReadableBytes { raw throws(UploadError) in try file.append(raw) }
                    state = .uploading(started, file)
                } catch {
                    file.discard()
                    refuse(error.isStorageFull ? .error(.storageFull, "no space left for the upload: \(error)") : .error(.internal, error.description),
                           context: context)
                }
            case .idle, .refused, .responding, .closing:
                break
            }
        case .end:
            switch state {
            case .collecting(let started, let body):
                dispatch(started, body: body.readableBytes > 0 ? .bytes(Array(body.readableBytesView)) : .none, context: context)
            case .uploading(let started, let file):
                do {
                    try file.finish()
                    dispatch(started, body: .file(file), context: context, upload: file)
                } catch {
                    file.discard()
                    refuse(error.isStorageFull ? .error(.storageFull, "no space left for the upload: \(error)") : .error(.internal, error.description),
                           context: context)
                }
            case .refused:
                context.close(promise: nil)
            case .idle, .responding, .closing:
                break
            }
        }
    }

    private func start(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let headers = head.headers.map { ($0.name.lowercased(), $0.value) }
        let request = APIRequest(method: head.method.rawValue, uri: head.uri, headers: headers, peer: peer)
        let declaredLength = head.headers.first(name: "content-length").flatMap(Int.init)
        let route: DaemonAPI.Route
        switch api.admit(request, declaredLength: declaredLength) {
        case .refused(let refusal):
            refuse(refusal, context: context, bodyFollows: declaredLength.map { $0 > 0 } ?? head.headers.contains(name: "transfer-encoding"))
            return
        case .admitted(let admitted):
            route = admitted
        }
        let started = Started(head: head, request: request, route: route)
        if route.isUpload {
            do {
                state = .uploading(started, try UploadedFile(directory: api.limits.uploadDirectory))
            } catch {
                refuse(error.isStorageFull ? .error(.storageFull, error.description) : .error(.internal, error.description), context: context)
                return
            }
        } else {
            state = .collecting(started, context.channel.allocator.buffer(capacity: min(declaredLength ?? 0, 1 << 20)))
        }
        if head.headers[canonicalForm: "expect"].contains(where: { $0.lowercased() == "100-continue" }) {
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
        }
    }

    private func dispatch(_ started: Started, body: APIRequest.Body, context: ChannelHandlerContext, upload: UploadedFile? = nil) {
        state = .responding
        var request = started.request
        request.body = body
        let keepAlive = started.head.isKeepAlive
        let version = started.head.version
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        api.respond(to: request, route: started.route) { response in
            upload?.discard()
            if loopBound.eventLoop.inEventLoop {
                Self.finish(response, loopBound.value, version: version, keepAlive: keepAlive)
            } else {
                loopBound.eventLoop.execute { Self.finish(response, loopBound.value, version: version, keepAlive: keepAlive) }
            }
        }
    }

    private static func finish(_ response: APIResponse, _ connection: (HTTPConnectionHandler, ChannelHandlerContext), version: HTTPVersion, keepAlive: Bool) {
        let (handler, context) = connection
        handler.write(response, version: version, keepAlive: keepAlive, context: context)
        if keepAlive {
            handler.state = .idle
            handler.replayPipelined(context: context)
        } else {
            handler.state = .closing
            handler.pipelined.removeAll()
            handler.pipelinedBytes = 0
        }
    }

    private func refuse(_ response: APIResponse, context: ChannelHandlerContext, bodyFollows: Bool = true) {
        if bodyFollows {
            state = .refused
            write(response, version: .http1_1, keepAlive: false, context: context)
        } else {
            state = .responding
            write(response, version: .http1_1, keepAlive: true, context: context)
            state = .idle
        }
    }

    private func write(_ response: APIResponse, version: HTTPVersion, keepAlive: Bool, context: ChannelHandlerContext) {
        var headers = HTTPHeaders(response.headers)
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        let head = HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: response.status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if !response.body.isEmpty {
            var buffer = context.channel.allocator.buffer(capacity: response.body.count)
            buffer.writeBytes(response.body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let done = context.writeAndFlushAndReturnFuture(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .uploading(_, let file) = state { file.discard() }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if case .uploading(_, let file) = state { file.discard() }
        context.close(promise: nil)
    }
}

extension ChannelHandlerContext {
    fileprivate func writeAndFlushAndReturnFuture(_ data: NIOAny) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        writeAndFlush(data, promise: promise)
        return promise.futureResult
    }
}
