import HTTPTypes
import Hummingbird
import SwitchboardCore

/// Prepares each request's context: the body limit, and a request id — the client's `X-Request-Id`
/// when it is sane, else a new one.
///
/// The id is echoed in the response header, logged as `sb.request_id` and put into problem bodies.
struct RequestContextMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let bodyLimit: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.maxUploadSize = bodyLimit
        let id = request.headers[.xRequestID].flatMap { $0.count <= 128 && $0.allSatisfy(\.isASCII) && !$0.isEmpty ? $0 : nil }
            ?? TimeOrderedIDGenerator.shared.make()
        context.logger[metadataKey: "sb.request_id"] = .string(id)
        var response = try await next(request, context)
        response.headers[.xRequestID] = id
        return response
    }
}

extension HTTPField.Name {
    static let xRequestID = Self("X-Request-Id")!
    static let xAPIKey = Self("X-API-Key")!
    static let idempotencyKey = Self("Idempotency-Key")!
    static let idempotentReplayed = Self("Idempotent-Replayed")!
}
