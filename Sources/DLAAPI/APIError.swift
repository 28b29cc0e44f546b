/// The body of every error answer: `{"error": {"code": …, "message": …}}`.
///
/// `code` is a stable machine-readable word (scripts branch on it); `message` is for people and
/// names what was expected and what was found.
public struct APIErrorBody: Codable, Sendable, Equatable {
    public struct Detail: Codable, Sendable, Equatable {
        public var code: String
        public var message: String
    }

    public var error: Detail

    public init(code: APIErrorCode, message: String) {
        error = Detail(code: code.rawValue, message: message)
    }
}

/// Error codes and the HTTP status each one is sent with.
public enum APIErrorCode: String, Codable, Sendable, CaseIterable {
    case badRequest = "bad_request"
    case forbidden
    case notFound = "not_found"
    case methodNotAllowed = "method_not_allowed"
    case conflict
    case payloadTooLarge = "payload_too_large"
    case unsupportedMediaType = "unsupported_media_type"
    case invalidModel = "invalid_model"
    case overloaded
    case timeout
    case storageFull = "storage_full"
    case notAcceptable = "not_acceptable"
    case `internal`

    public var httpStatus: Int {
        switch self {
        case .badRequest: 400
        case .forbidden: 403
        case .notFound: 404
        case .methodNotAllowed: 405
        case .notAcceptable: 406
        case .conflict: 409
        case .payloadTooLarge: 413
        case .unsupportedMediaType: 415
        case .invalidModel: 422
        case .internal: 500
        case .overloaded: 503
        case .timeout: 504
        case .storageFull: 507
        }
    }
}
