import DLAAPI
@testable import DLADaemon
import DLAFormat
import Foundation
import Testing

/// Random requests, mostly malformed, through the whole API in process: every one gets a status
/// the API documents and, for an error, its JSON error body; none crashes the daemon or leaves it
/// unable to answer. (An empty Content-Type once crashed it; schemathesis, which generates from
/// the OpenAPI document, never sent one.) 2,000 requests per run, about 0.5 s; `API_FUZZ_ROUNDS`
/// sets more (50,000 passed when this was written). The seed is in every failure;
/// `API_FUZZ_SEED` replays it.
@Suite struct APIRobustnessTests {
    /// xorshift64*: reproducible from its seed, unlike the system generator.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return state &* 2_685_821_657_736_338_717
        }
    }

    static let documented: Set<Int> = [200, 201, 204, 400, 403, 404, 405, 406, 409, 413, 415, 422, 503, 504, 507]

    static let segments = ["v1", "models", "digits", "infer", "versions", "activate", "rollback", "inferences", "stats", "health",
                           "1", "0", "-1", "99999999999999999999", "", ".", "..", "%", "%zz", "%2F", "%E2%9C%93", "a b", "✓",
                           String(repeating: "x", count: 300), "debug", "freeze-engine", "metrics"]
    static let contentTypes: [String?] = [nil, "", ";", ";;", " ", "application/json", "application/x-npy", "APPLICATION/JSON; charset=utf-8",
                                          "application/octet-stream", "text/plain", "application/json;", "\u{0}", "multipart/form-data; boundary=x"]
    static let accepts: [String?] = [nil, "", "*/*", "application/x-npy", "text/html", ";", "application/json, application/x-npy"]
    static let queries = ["", "?", "?version=1", "?version=0", "?version=x", "?activate=true", "?activate=maybe", "?limit=-1", "?limit=",
                          "?since=1h", "?since=%", "?after=abc", "?status=oops", "?model=%zz", "?&&=&", "?version=99999999999999999999"]

    static let templates = ["/v1/health", "/v1/models", "/v1/models/{}", "/v1/models/{}/infer", "/v1/models/{}/infer",
                            "/v1/models/{}/infer", "/v1/inferences", "/v1/inferences/{}", "/v1/stats", "/metrics"]

    /// Mostly the API's own routes with a random segment where a name or id goes (so that most
    /// requests reach a route's own checks), sometimes random segments.
    static func path<G: RandomNumberGenerator>(_ random: inout G) -> String {
        if Int.random(in: 0..<5, using: &random) == 0 {
            return "/" + (0..<Int.random(in: 0...5, using: &random)).map { _ in segments.randomElement(using: &random)! }.joined(separator: "/")
        }
        let name = Bool.random(using: &random) ? "digits" : segments.randomElement(using: &random)!
        return templates.randomElement(using: &random)!.replacingOccurrences(of: "{}", with: name)
    }

    static func body<G: RandomNumberGenerator>(_ random: inout G, npy: [UInt8]) -> [UInt8] {
        switch Int.random(in: 0..<7, using: &random) {
        case 0: return []
        case 1: return npy
        case 2: return Array(npy.prefix(Int.random(in: 0...npy.count, using: &random)))
        case 3: return Array(#"{"inputs": [[1, 2, 3]]}"#.utf8)
        case 4: return Array(#"{"inputs": [["a"]], "x": {"#.utf8)
        case 5: return (0..<Int.random(in: 1...64, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
        default:
            var corrupted = npy
            for _ in 0..<4 { corrupted[Int.random(in: 0..<corrupted.count, using: &random)] = UInt8.random(in: 0...255, using: &random) }
            return corrupted
        }
    }

    @Test func randomRequestsGetDocumentedAnswersAndNeverStopTheDaemon() async throws {
        let seed = ProcessInfo.processInfo.environment["API_FUZZ_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64.max)
        var random = SeededGenerator(state: seed)
        let bed = try await APITestBed(timeout: .seconds(5))
        #expect(await bed.push("digits", try APITestBed.firmware("lenet-300-100-int8.dla")).status == 201)
        let npy = try APITestBed.sampleNPY()
        let peers = [APITestBed.admin, APITestBed.member, APITestBed.adminGroupMember]
        for round in 0..<(ProcessInfo.processInfo.environment["API_FUZZ_ROUNDS"].flatMap { Int($0) } ?? 2000) {
            let path = Self.path(&random)
            // Mostly the method the route takes, so that requests get past the 405.
            let method = Int.random(in: 0..<4, using: &random) > 0 ? (path.hasSuffix("/infer") ? "POST" : "GET")
                : ["GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", ""].randomElement(using: &random)!
            let query = Self.queries.randomElement(using: &random)!
            var headers: [(String, String)] = []
            if let type = Self.contentTypes.randomElement(using: &random)! { headers.append(("content-type", type)) }
            if let accept = Self.accepts.randomElement(using: &random)! { headers.append(("accept", accept)) }
            let body = Self.body(&random, npy: npy)
            let request = APIRequest(method: method, uri: path + query, headers: headers, body: body.isEmpty ? .none : .bytes(body),
                                     peer: peers.randomElement(using: &random)!)
            // Pushes of random bytes are refused by the push pipeline; keep the registry as it is.
            if method == "POST", path.hasSuffix("/versions") || path.hasSuffix("/activate") || path.hasSuffix("/rollback") { continue }
            if method == "DELETE" || path.contains("debug") { continue }
            let response = await bed.api.handle(request)
            let context = "seed \(seed), round \(round): \(method) \(path + query) \(headers) body \(body.count) bytes -> \(response.status)"
            #expect(Self.documented.contains(response.status), "\(context)")
            if response.status >= 400 {
                #expect(bed.errorCode(response) != nil, "\(context): \(String(decoding: response.body.prefix(200), as: UTF8.self))")
            }
        }
        let health = try bed.decode(HealthResponse.self, await bed.send("GET", "/v1/health"))
        #expect(health.status == "ok", "seed \(seed): \(health.reasons)")
        #expect(await bed.send("POST", "/v1/models/digits/infer", body: npy, contentType: "application/x-npy").status == 200, "seed \(seed)")
        await bed.close()
    }
}
