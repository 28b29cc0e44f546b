#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import DLAAPI

/// What went wrong talking to dlad: the connection, or an error answer from the server (with
/// the server's own code and message, which dlactl prints as they are).
public enum DLAClientError: Error, Sendable, CustomStringConvertible {
    case connection(String)
    case server(status: Int, code: String, message: String)
    case unexpectedResponse(status: Int, detail: String)

    public var description: String {
        switch self {
        case .connection(let message): message
        case .server(_, _, let message): message
        case .unexpectedResponse(let status, let detail): "unexpected answer from dlad (HTTP \(status)): \(detail)"
        }
    }
}

/// A typed client of dlad's socket API (`/v1/...`, docs/openapi.yaml).
public final class DLAClient {
    public static let defaultSocketPath = "/run/dlad/dlad.sock"
    public let connection: UnixHTTPConnection

    public init(socketPath: String) {
        connection = UnixHTTPConnection(socketPath: socketPath)
    }

    public func health() throws(DLAClientError) -> HealthResponse {
        try decode(try send("GET", "/v1/health"), accepting: [200])
    }

    public func models() throws(DLAClientError) -> ModelList {
        try decode(try send("GET", "/v1/models"))
    }

    public func model(_ name: String) throws(DLAClientError) -> ModelInfo {
        try decode(try send("GET", "/v1/models/\(Self.escape(name))"))
    }

    /// Pushes `bytes` as a new version of `name`; `progress` sees the bytes sent so far.
    public func push(name: String, bytes: [UInt8], activate: Bool, progress: ((Int) -> Void)? = nil) throws(DLAClientError) -> PushResponse {
        let path = "/v1/models/\(Self.escape(name))/versions" + (activate ? "?activate=true" : "")
        return try decode(try send("POST", path, contentType: "application/octet-stream", body: bytes, progress: progress), accepting: [200, 201])
    }

    public func activate(name: String, version: Int) throws(DLAClientError) -> ActivationResponse {
        let body = Array(#"{"version": \#(version)}"#.utf8)
        return try decode(try send("POST", "/v1/models/\(Self.escape(name))/activate", contentType: "application/json", body: body))
    }

    public func rollback(name: String) throws(DLAClientError) -> ActivationResponse {
        try decode(try send("POST", "/v1/models/\(Self.escape(name))/rollback"))
    }

    public func deleteVersion(name: String, version: Int) throws(DLAClientError) {
        let response = try send("DELETE", "/v1/models/\(Self.escape(name))/versions/\(version)")
        guard response.status == 204 else { throw Self.failure(response) }
    }

    /// Runs an inference with an `.npy` body and returns the raw answer: JSON, or `.npy` when
    /// `acceptNPY` (the outputs bit for bit as float32).
    public func infer(name: String, npy: [UInt8], version: Int?, acceptNPY: Bool) throws(DLAClientError) -> HTTPResponse {
        var path = "/v1/models/\(Self.escape(name))/infer"
        if let version { path += "?version=\(version)" }
        let response = try send("POST", path, contentType: "application/x-npy", body: npy,
                                accept: acceptNPY ? "application/x-npy" : "application/json")
        guard response.status == 200 else { throw Self.failure(response) }
        return response
    }

    public func infer(name: String, json: [UInt8], version: Int?) throws(DLAClientError) -> InferResponse {
        var path = "/v1/models/\(Self.escape(name))/infer"
        if let version { path += "?version=\(version)" }
        return try decode(try send("POST", path, contentType: "application/json", body: json))
    }

    public func inferences(_ query: [(String, String)]) throws(DLAClientError) -> InferencePage {
        let text = query.map { "\($0.0)=\(Self.escape($0.1))" }.joined(separator: "&")
        return try decode(try send("GET", "/v1/inferences" + (text.isEmpty ? "" : "?" + text)))
    }

    public func inference(id: Int64) throws(DLAClientError) -> InferenceDetail {
        try decode(try send("GET", "/v1/inferences/\(id)"))
    }

    public func stats(windowSeconds: Int?) throws(DLAClientError) -> StatsResponse {
        try decode(try send("GET", "/v1/stats" + (windowSeconds.map { "?window=\($0)" } ?? "")))
    }

    /// One request as given (the bench's load, scripts).
    public func send(_ method: String, _ path: String, contentType: String? = nil, body: [UInt8] = [],
                     accept: String = "application/json", progress: ((Int) -> Void)? = nil) throws(DLAClientError) -> HTTPResponse {
        var headers: [(String, String)] = [("Accept", accept)]
        if let contentType { headers.append(("Content-Type", contentType)) }
        do {
            return try connection.request(method: method, path: path, headers: headers, body: body, bodyProgress: progress)
        } catch {
            throw .connection(error.description)
        }
    }

    private func decode<T: Decodable>(_ response: HTTPResponse, accepting statuses: Set<Int> = [200]) throws(DLAClientError) -> T {
        guard statuses.contains(response.status) else { throw Self.failure(response) }
        do {
            return try JSONDecoder().decode(T.self, from: Data(response.body))
        } catch {
            throw .unexpectedResponse(status: response.status, detail: "cannot decode \(T.self): \(error)")
        }
    }

    /// The server's error body as an error; anything else is named by its status.
    public static func failure(_ response: HTTPResponse) -> DLAClientError {
        if let body = try? JSONDecoder().decode(APIErrorBody.self, from: Data(response.body)) {
            return .server(status: response.status, code: body.error.code, message: body.error.message)
        }
        let text = String(decoding: response.body.prefix(200), as: UTF8.self)
        return .unexpectedResponse(status: response.status, detail: text.isEmpty ? "no body" : text)
    }

    /// Percent-encodes a path segment or query value (RFC 3986 unreserved characters pass).
    public static func escape(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(Character(UnicodeScalar(byte)))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }
}
