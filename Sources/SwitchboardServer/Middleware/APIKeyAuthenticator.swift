import HTTPTypes
import Hummingbird
import SwitchboardCore

/// Resolves the caller from `Authorization: Bearer <key>` or `X-API-Key: <key>`; 401 otherwise.
///
/// The tenant always comes from the key, never from the request.
struct APIKeyAuthenticator: RouterMiddleware {
    typealias Context = AppRequestContext
    let directory: any TenantDirectory

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let secret = Self.credential(in: request.headers), let principal = try directory.authenticate(secret: secret) else {
            throw Problem.unauthenticated
        }
        var context = context
        context.principal = principal
        context.logger[metadataKey: "sb.tenant"] = .string(principal.tenantID)
        return try await next(request, context)
    }

    static func credential(in headers: HTTPFields) -> String? {
        if let authorization = headers[.authorization] {
            guard let space = authorization.firstIndex(of: " "),
                authorization[..<space].lowercased() == "bearer"
            else { return nil }
            return String(authorization[space...].drop(while: { $0 == " " }))
        }
        return headers[.xAPIKey]
    }
}
