import DLAAPI
import NIOCore
import NIOHTTP1

/// Turns one connection's HTTP/1.1 requests into `APIRequest`s and writes the answers.
///
/// NIO's server pipeline (added before this handler) parses HTTP, answers malformed requests
/// with 400 and holds pipelined requests back until the previous answer is written, so this
/// handler sees one request at a time. Model uploads stream to a file as they arrive; every other
/// body is collected in memory up to its cap. A request refused before its body is read (403,
/// 413, 415) is answered at once and the connection closed, so the body is never read.
final class HTTPConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        case collecting(Started, ByteBuffer)
        case uploading(Started, UploadedFile)
        /// An answer went out before the body was read: drop the rest, then close.
        case refused
        case responding
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
    private var state = State.idle

    init(api: DaemonAPI, peer: PeerIdentity) {
        self.api = api
        self.peer = peer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
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
            case .idle, .refused, .responding:
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
            case .idle, .responding:
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
        handler.state = .idle
        handler.write(response, version: version, keepAlive: keepAlive, context: context)
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
