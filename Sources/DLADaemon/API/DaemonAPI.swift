#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import DLAAPI
import DLAStore
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The socket API's routes (`/v1/...`, docs/openapi.yaml), independent of the transport: the
/// HTTP handler feeds it `APIRequest`s, tests call `handle` directly.
public final class DaemonAPI: Sendable {
    /// What the HTTP layer needs before a request reaches a route.
    public struct Limits: Sendable {
        public var maxUploadBytes: Int
        public var maxRequestBytes: Int
        public var uploadDirectory: String

        public init(maxUploadBytes: Int, maxRequestBytes: Int, uploadDirectory: String) {
            self.maxUploadBytes = maxUploadBytes
            self.maxRequestBytes = maxRequestBytes
            self.uploadDirectory = uploadDirectory
        }
    }

    /// Settings that SIGHUP reloads.
    public struct Policy: Sendable {
        public var adminGroupID: UInt32?
        public var push: ModelPushPipeline.Policy
        public var requestTimeoutNanoseconds: UInt64
        public var storeInputs: Bool
        public var faultInjection: Bool

        public init(adminGroupID: UInt32?, push: ModelPushPipeline.Policy, requestTimeoutNanoseconds: UInt64,
                    storeInputs: Bool, faultInjection: Bool) {
            self.adminGroupID = adminGroupID
            self.push = push
            self.requestTimeoutNanoseconds = requestTimeoutNanoseconds
            self.storeInputs = storeInputs
            self.faultInjection = faultInjection
        }
    }

    public let limits: Limits
    let store: DLAStore
    let catalog: ModelCatalog
    let pool: EnginePool
    let pipeline: ModelPushPipeline
    let metrics: DaemonMetrics
    let logger: Logger
    let startedAt = monotonicNanoseconds()
    /// The daemon's own uid: it may administer its own daemon (a developer's `make run`).
    let ownerUID: UInt32
    private let policyState: Mutex<Policy>
    let inferenceCount = Atomic<Int>(0)
    private let inFlightCount = Atomic<Int>(0)
    private let supervisionState = Mutex<String?>(nil)
    let databaseFactsCache = Mutex<DatabaseFacts?>(nil)

    /// Why the watchdog is not pinging, if it is not: `/v1/health` reports it as degraded.
    public var supervisionProblem: String? {
        get { supervisionState.withLock { $0 } }
        set { supervisionState.withLock { $0 = newValue } }
    }

    /// Requests being answered now (shutdown waits for them).
    public var inFlight: Int { inFlightCount.load(ordering: .relaxed) }

    public init(store: DLAStore, catalog: ModelCatalog, pool: EnginePool, limits: Limits, policy: Policy,
                metrics: DaemonMetrics, logger: Logger, ownerUID: UInt32) {
        self.store = store
        self.catalog = catalog
        self.pool = pool
        self.pipeline = ModelPushPipeline(store: store, catalog: catalog)
        self.limits = limits
        self.policyState = Mutex(policy)
        self.metrics = metrics
        self.logger = logger
        self.ownerUID = ownerUID
    }

    public var policy: Policy {
        get { policyState.withLock { $0 } }
        set { policyState.withLock { $0 = newValue } }
    }

    /// Whether `peer` may change models: root, the daemon's own user, or the admin group.
    func mayAdminister(_ peer: PeerIdentity) -> Bool {
        if peer.uid == 0 || peer.uid == ownerUID { return true }
        guard let group = policy.adminGroupID else { return false }
        return peer.isMember(of: group)
    }

    // MARK: - Routing

    enum Route: Equatable {
        case health, metrics, models, model(String), versions(String), version(String, Int)
        case activate(String), rollback(String), infer(String), inferences, inference(Int64), stats
        case freezeEngine, thawEngine

        /// Methods the route answers; anything else is 405 with `Allow`.
        var methods: [String] {
            switch self {
            case .health, .metrics, .models, .model, .inferences, .inference, .stats: ["GET"]
            case .versions, .activate, .rollback, .infer, .freezeEngine, .thawEngine: ["POST"]
            case .version: ["DELETE"]
            }
        }

        var label: String {
            switch self {
            case .health: "health"
            case .metrics: "metrics"
            case .models: "models"
            case .model: "model"
            case .versions: "push"
            case .version: "delete"
            case .activate: "activate"
            case .rollback: "rollback"
            case .infer: "infer"
            case .inferences: "inferences"
            case .inference: "inference"
            case .stats: "stats"
            case .freezeEngine, .thawEngine: "debug"
            }
        }

        /// Whether the body streams to a file rather than memory (model pushes).
        var isUpload: Bool {
            if case .versions = self { true } else { false }
        }

        var changesModels: Bool {
            switch self {
            case .versions, .version, .activate, .rollback: true
            default: false
            }
        }
    }

    /// The route of a path, or the failure to answer (404 for unknown paths, 400 for bad names).
    static func route(_ path: String) throws(APIFailure) -> Route {
        if path == "/metrics" { return .metrics }
        let raw = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard path.hasPrefix("/v1/"), !raw.contains(where: \.isEmpty) else {
            throw APIFailure(.notFound, "no route \(path) (the API lives under /v1/, see docs/openapi.yaml)")
        }
        var segments: [String] = []
        for segment in raw {
            guard let decoded = APIRequest.percentDecode(segment) else {
                throw APIFailure(.badRequest, "malformed percent-escape in the path \(path)")
            }
            segments.append(decoded)
        }
        segments.removeFirst()
        func name(_ text: String) throws(APIFailure) -> String {
            guard ModelName.isValid(text) else { throw APIFailure(.badRequest, ModelName.rule(text)) }
            return text
        }
        switch segments.count {
        case 1:
            switch segments[0] {
            case "health": return .health
            case "models": return .models
            case "inferences": return .inferences
            case "stats": return .stats
            default: break
            }
        case 2:
            if segments[0] == "models" { return .model(try name(segments[1])) }
            if segments[0] == "inferences" {
                guard let id = Int64(segments[1]), id > 0 else {
                    throw APIFailure(.badRequest, "an inference id is a positive integer, got '\(segments[1])'")
                }
                return .inference(id)
            }
            if segments[0] == "debug", segments[1] == "freeze-engine" { return .freezeEngine }
            if segments[0] == "debug", segments[1] == "thaw-engine" { return .thawEngine }
        case 3 where segments[0] == "models":
            let model = try name(segments[1])
            switch segments[2] {
            case "versions": return .versions(model)
            case "activate": return .activate(model)
            case "rollback": return .rollback(model)
            case "infer": return .infer(model)
            default: break
            }
        case 4 where segments[0] == "models" && segments[2] == "versions":
            let model = try name(segments[1])
            guard let version = Int(segments[3]), version > 0 else {
                throw APIFailure(.badRequest, "a version is a positive integer, got '\(segments[3])'")
            }
            return .version(model, version)
        default:
            break
        }
        throw APIFailure(.notFound, "no route \(path) (see docs/openapi.yaml)")
    }

    /// Decides on a request's head alone, before any body is read: the route that answers it, or
    /// the refusal (404, 405, 403, 413, 415). The transport calls this once per request and keeps
    /// the route (parsing the path again per step was a tenth of an event loop's time under load).
    func admit(_ request: APIRequest, declaredLength: Int?) -> Admission {
        do throws(APIFailure) {
            let route = try Self.route(request.path)
            guard route.methods.contains(request.method) else {
                throw APIFailure(.methodNotAllowed, "\(request.method) is not allowed on \(request.path) (allowed: \(route.methods.joined(separator: ", ")))",
                                 headers: [("Allow", route.methods.joined(separator: ", "))])
            }
            if route.changesModels, !mayAdminister(request.peer) {
                throw APIFailure(.forbidden, "uid \(request.peer.uid) may not change models (root or members of the admin group may)")
            }
            if case .versions = route {
                if let declaredLength, declaredLength > limits.maxUploadBytes {
                    throw APIFailure(.payloadTooLarge, "the model is \(declaredLength) bytes, over the upload limit of \(limits.maxUploadBytes) bytes (max_upload_bytes)")
                }
                if let type = request.contentType, type != "application/octet-stream" {
                    throw APIFailure(.unsupportedMediaType, "a model push is sent as application/octet-stream, got \(type)")
                }
            } else if let declaredLength, declaredLength > limits.maxRequestBytes {
                throw APIFailure(.payloadTooLarge, "the request body is \(declaredLength) bytes, over the limit of \(limits.maxRequestBytes) bytes (max_request_bytes)")
            }
            return .admitted(route)
        } catch {
            metrics.countRequest(route: "unrouted", status: error.code.httpStatus)
            return .refused(error.response)
        }
    }

    enum Admission {
        case admitted(Route)
        case refused(APIResponse)
    }

    /// Answers one request in process (tests, no transport). Never throws: every failure becomes
    /// its error body.
    public func handle(_ request: APIRequest) async -> APIResponse {
        switch admit(request, declaredLength: nil) {
        case .refused(let refusal):
            return refusal
        case .admitted(let route):
            return await withCheckedContinuation { continuation in respond(to: request, route: route) { continuation.resume(returning: $0) } }
        }
    }

    /// Answers an admitted request: `completion` gets the answer on whichever thread produced it.
    func respond(to request: APIRequest, route: Route, completion: @escaping @Sendable (APIResponse) -> Void) {
        var request = request
        if request.requestID.isEmpty { request.requestID = RequestIDs.next() }
        inFlightCount.add(1, ordering: .relaxed)
        let started = monotonicNanoseconds()
        let requestID = request.requestID
        answer(route, request) { outcome in
            var answered = outcome.response
            self.metrics.countRequest(route: route.label, status: answered.status, nanoseconds: monotonicNanoseconds() &- started)
            answered.headers.append(("X-Request-Id", requestID))
            self.inFlightCount.subtract(1, ordering: .relaxed)
            completion(answered)
        }
    }

    /// How a route answers: once, on whichever thread finished it.
    typealias RouteReply = @Sendable (Result<APIResponse, APIFailure>) -> Void

    /// Inference runs on completions from here on (see `infer`), the fault switch at once; every
    /// other route runs in a task.
    private func answer(_ route: Route, _ request: APIRequest, reply: @escaping RouteReply) {
        func inTask(_ body: @escaping @Sendable () async throws(APIFailure) -> APIResponse) {
            Task {
                do throws(APIFailure) {
                    reply(.success(try await body()))
                } catch {
                    reply(.failure(error))
                }
            }
        }
        switch route {
        case .health: inTask { () async throws(APIFailure) in await self.health() }
        case .metrics: inTask { () async throws(APIFailure) in await self.metricsText() }
        case .models: inTask { () async throws(APIFailure) in try await self.listModels() }
        case .model(let name): inTask { () async throws(APIFailure) in try await self.modelDetail(name) }
        case .versions(let name): inTask { () async throws(APIFailure) in try await self.push(name, request) }
        case .version(let name, let version): inTask { () async throws(APIFailure) in try await self.deleteVersion(name, version, request) }
        case .activate(let name): inTask { () async throws(APIFailure) in try await self.activate(name, request) }
        case .rollback(let name): inTask { () async throws(APIFailure) in try await self.rollback(name, request) }
        case .infer(let name): infer(name, request, reply: reply)
        case .inferences: inTask { () async throws(APIFailure) in try await self.listInferences(request) }
        case .inference(let id): inTask { () async throws(APIFailure) in try await self.inferenceDetail(id) }
        case .stats: inTask { () async throws(APIFailure) in try await self.stats(request) }
        case .freezeEngine, .thawEngine:
            do throws(APIFailure) {
                reply(.success(try faultSwitch(route, request)))
            } catch {
                reply(.failure(error))
            }
        }
    }

    /// `POST /v1/debug/freeze-engine?core=N`: only when `fault_injection` is on in the config
    /// (tests of the watchdog); 404 otherwise, as if the route did not exist.
    private func faultSwitch(_ route: Route, _ request: APIRequest) throws(APIFailure) -> APIResponse {
        guard policy.faultInjection else { throw APIFailure(.notFound, "no route \(request.path) (see docs/openapi.yaml)") }
        guard mayAdminister(request.peer) else { throw APIFailure(.forbidden, "uid \(request.peer.uid) may not use fault switches") }
        let core = Int(request.queryValue("core") ?? "0") ?? -1
        guard (0..<pool.cores).contains(core) else {
            throw APIFailure(.badRequest, "core must be 0…\(pool.cores - 1), got \(request.queryValue("core") ?? "")")
        }
        if route == .freezeEngine { pool.freeze(core: core) } else { pool.thaw(core: core) }
        logger.warning("fault injection: engine core \(core) \(route == .freezeEngine ? "frozen" : "thawed")")
        return .json(["core": core])
    }
}

/// Request ids: the daemon's start time and a counter, unique across restarts and cheap to make;
/// sent back as `X-Request-Id` and logged as the journal field REQUEST_ID.
enum RequestIDs {
    private static let prefix: String = {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return String(UInt64(time.tv_sec) &* 1_000_000 &+ UInt64(time.tv_nsec / 1000), radix: 36)
    }()
    private static let counter = Atomic<UInt64>(0)

    static func next() -> String {
        prefix + "-" + String(counter.add(1, ordering: .relaxed).newValue, radix: 36)
    }
}

/// Model names: what fits in a URL path segment, a file name and a log field unquoted.
enum ModelName {
    static func isValid(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...128).contains(bytes.count), bytes[0] != UInt8(ascii: ".") else { return false }
        return bytes.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
        }
    }

    static func rule(_ name: String) -> String {
        "invalid model name '\(name.prefix(64))': use 1–128 letters, digits, '.', '_' or '-', not starting with '.'"
    }
}
