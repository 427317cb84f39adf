import Hummingbird
import SwitchboardCore

/// Directory sign-in: trades credentials an `auth_provider` plugin accepted (`Authorization: Basic`
/// with `<tenant id>/<username>`) for a bearer access token of the built-in authorization server that
/// carries the role the directory mapped, so a console asks the directory once per token lifetime.
struct SignInController {
    let authority: AccessTokenAuthority

    func addRoutes(to routes: DocumentedRoutes) {
        routes.on(.post, "/auth/token", scope: .agentsRead, use: token)
    }

    @Sendable func token(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = context.requirePrincipal
        guard principal.method == .plugin else {
            throw SwitchboardError(
                kind: .invalidInput,
                code: "directory_credentials_required",
                detail: "Sign in with directory credentials: Authorization: Basic base64('<tenant id>/<username>:<password>')."
            )
        }
        let (token, expiresIn) = try await authority.issue(signedIn: principal)
        var response = try Response.json(
            JSONValue.object([
                "access_token": .string(token), "token_type": "Bearer", "expires_in": JSONValue(Int64(expiresIn)),
                "scope": .string(principal.scopes.sorted().map(\.name).joined(separator: " ")),
                "subject": .string(principal.subject), "role": .string(principal.role.name), "tenant_id": .string(principal.tenantID),
            ])
        )
        response.headers[.cacheControl] = "no-store"
        return response
    }
}
