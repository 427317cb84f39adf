import Foundation
import HTTPTypes
import Hummingbird
import SwitchboardCore

/// An RFC 9457 problem document, the body of every error response.
struct Problem: Encodable, Error {
    var type: String
    var title: String
    var status: Int
    var detail: String
    /// A stable snake_case code clients branch on.
    var code: String
    var field: String?
    var instance: String?
    var requestID: String?
    /// The scope the credential lacks, on 403 `missing_scope`.
    var requiredScope: String?
    /// Headers the response carries beside the body (`Retry-After`, `RateLimit`); not part of the body.
    var headers: HTTPFields = [:]

    enum CodingKeys: String, CodingKey {
        case type, title, status, detail, code, field, instance
        case requestID = "request_id"
        case requiredScope = "required_scope"
    }

    /// Creates a problem whose `type` is the code's documentation URI.
    init(status: HTTPResponse.Status, code: String, detail: String, field: String? = nil) {
        self.type = "urn:switchboard:problem:\(code)"
        self.title = status.reasonPhrase
        self.status = status.code
        self.detail = detail
        self.code = code
        self.field = field
    }

    /// Maps a domain error to its HTTP status.
    init(_ error: SwitchboardError) {
        let status: HTTPResponse.Status =
            switch error.kind {
            case .notFound: .notFound
            case .conflict: .conflict
            case .preconditionFailed: .preconditionFailed
            case .unauthenticated: .unauthorized
            case .forbidden: .forbidden
            case .unavailable: .serviceUnavailable
            case .insufficientStorage: HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage")
            default: .unprocessableContent
            }
        self.init(status: status, code: error.code, detail: error.detail, field: error.field)
        // A full disk takes a person; a lost database connection is replaced within seconds.
        if error.kind == .insufficientStorage { headers[.retryAfter] = "30" }
        if error.kind == .unavailable { headers[.retryAfter] = "5" }
    }

    /// The response, as `application/problem+json`.
    func response() -> Response {
        let body = (try? SwitchboardJSON.encode(self)) ?? []
        var headers: HTTPFields = [.contentType: "application/problem+json"]
        headers.append(contentsOf: self.headers)
        return Response(
            status: HTTPResponse.Status(code: status),
            headers: headers,
            body: .init(byteBuffer: ByteBuffer(bytes: body))
        )
    }
}

extension Problem {
    static func badRequest(code: String, _ detail: String, field: String? = nil) -> Problem {
        Problem(status: .badRequest, code: code, detail: detail, field: field)
    }

    static func invalidParameter(_ name: String, _ detail: String) -> Problem {
        Problem(status: .badRequest, code: "invalid_parameter", detail: detail, field: name)
    }

    static let unauthenticated = Problem(
        status: .unauthorized,
        code: "unauthenticated",
        detail: "Send a valid API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'."
    )

    /// 401 for a credential that was presented and refused.
    static func unauthenticated(_ detail: String) -> Problem {
        Problem(status: .unauthorized, code: "unauthenticated", detail: detail)
    }

    /// 403 naming the scope the credential lacks.
    static func missingScope(_ scope: Scope) -> Problem {
        var problem = Problem(status: .forbidden, code: "missing_scope", detail: "This route needs the scope '\(scope.name)', which the credential does not hold.")
        problem.requiredScope = scope.name
        return problem
    }

    static let addressNotAllowed = Problem(
        status: .forbidden,
        code: "address_not_allowed",
        detail: "The credential may not be used from this client address."
    )

    /// 429 with `Retry-After`, for a request over a rate limit.
    static func rateLimited(_ decision: RateLimiter.Decision, code: String = "rate_limited") -> Problem {
        var problem = Problem(
            status: .tooManyRequests,
            code: code,
            detail: "The '\(decision.policy.name)' limit of \(decision.policy.quota) requests per \(decision.policy.windowSeconds) s is spent; retry in \(decision.retryAfterSeconds) s."
        )
        problem.headers[.retryAfter] = String(decision.retryAfterSeconds)
        return problem
    }
}
