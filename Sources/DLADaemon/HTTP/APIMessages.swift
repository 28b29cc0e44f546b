#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import DLAAPI

/// A request as the API's routes see it: no NIO types, so routes are tested without a channel.
public struct APIRequest: Sendable {
    public enum Body: Sendable {
        case none
        case bytes([UInt8])
        /// An upload already streamed to a temporary file (model pushes).
        case file(UploadedFile)
    }

    public var method: String
    /// The path without the query, percent-decoded per segment by the router.
    public var path: String
    public var query: [(String, String)]
    /// Header names lowercased.
    public var headers: [(String, String)]
    public var body: Body
    public var peer: PeerIdentity
    public var requestID: String

    public init(method: String, path: String, query: [(String, String)] = [], headers: [(String, String)] = [],
                body: Body = .none, peer: PeerIdentity = .current, requestID: String = "") {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.peer = peer
        self.requestID = requestID
    }

    /// Splits `/a/b?x=1&y=2` into the path and its decoded query pairs.
    public init(method: String, uri: String, headers: [(String, String)] = [], body: Body = .none,
                peer: PeerIdentity = .current, requestID: String = "") {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var query: [(String, String)] = []
        if parts.count == 2 {
            for pair in parts[1].split(separator: "&") where !pair.isEmpty {
                let halves = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                query.append((Self.percentDecode(halves[0]) ?? String(halves[0]),
                              halves.count == 2 ? (Self.percentDecode(halves[1]) ?? String(halves[1])) : ""))
            }
        }
        self.init(method: method, path: String(parts[0]), query: query, headers: headers, body: body, peer: peer, requestID: requestID)
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.0 == name }?.1
    }

    public func queryValue(_ name: String) -> String? {
        query.first { $0.0 == name }?.1
    }

    /// The media type of the body without parameters, lowercased.
    public var contentType: String? {
        guard let value = header("content-type") else { return nil }
        // Nearly always already bare (`application/x-npy`): answered without building new strings.
        if !value.utf8.contains(where: { $0 == UInt8(ascii: ";") || $0 == 0x20 || $0 == 0x09 || (0x41...0x5A).contains($0) }) {
            return value
        }
        return String(value.split(separator: ";", omittingEmptySubsequences: false)[0]).lowercased().trimmingSpaces
    }

    /// Percent-decoding (`+` stays `+`); nil when an escape is malformed or the bytes are not UTF-8.
    public static func percentDecode(_ text: some StringProtocol) -> String? {
        if !text.utf8.contains(UInt8(ascii: "%")) { return String(text) }
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next(), let low = iterator.next(),
                      let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) else { return nil }
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}

/// An answer: status, headers and the whole body.
public struct APIResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first { $0.0.lowercased() == lowered }?.1
    }

    static let jsonEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    public static func json<T: Encodable>(_ value: T, status: Int = 200) -> APIResponse {
        do {
            let data = try jsonEncoder.encode(value)
            return APIResponse(status: status, headers: [("Content-Type", "application/json")], body: Array(data) + [0x0A])
        } catch {
            return .error(.internal, "cannot encode the answer: \(error)")
        }
    }

    public static func error(_ code: APIErrorCode, _ message: String, headers: [(String, String)] = []) -> APIResponse {
        var response = json(APIErrorBody(code: code, message: message), status: code.httpStatus)
        response.headers += headers
        return response
    }
}

/// A failure a route answers with; thrown through the handlers, turned into the error body once.
public struct APIFailure: Error, Sendable {
    public var code: APIErrorCode
    public var message: String
    public var headers: [(String, String)]

    public init(_ code: APIErrorCode, _ message: String, headers: [(String, String)] = []) {
        self.code = code
        self.message = message
        self.headers = headers
    }

    public var response: APIResponse { .error(code, message, headers: headers) }
}

extension Result<APIResponse, APIFailure> {
    /// The answer, or the failure's error answer.
    var response: APIResponse {
        switch self {
        case .success(let response): response
        case .failure(let failure): failure.response
        }
    }
}
