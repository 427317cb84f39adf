import Hummingbird
import SwitchboardCore

/// Directory sign-in: trades credentials an `auth_provider` plugin accepted (`Authorization: Basic`
/// with `<tenant id>/<username>`) for a bearer access token of the built-in authorization server that
/// carries the role the directory mapped, so a console asks the directory once per token lifetime.
///
/// A sign-in token has no OAuth client to revoke it through RFC 7009, so it is revoked here: by its
/// holder (`DELETE /auth/token`, signing out), or by a key manager of its tenant (`POST /auth/revoke`).
struct SignInController {
    let authority: AccessTokenAuthority
    let store: any OAuthStore
    let verifier: AccessTokenVerifier
    let audit: AuditRecorder

    func addRoutes(to routes: DocumentedRoutes) {
        routes.on(.post, "/auth/token", scope: .agentsRead, use: token)
        routes.on(.delete, "/auth/token", scope: .agentsRead, use: signOut)
        routes.on(.post, "/auth/revoke", scope: .keysManage, body: RevokeBody.self, use: revoke)
    }

    struct RevokeBody: StrictBody {
        var token: String
        static let fields: Set<String> = ["token"]
    }

    /// Revokes the access token the request is authenticated with.
    @Sendable func signOut(_ request: Request, context: AppRequestContext) async throws -> Response {
        guard context.requirePrincipal.method == .accessToken, let token = APIKeyVerifier.bearerToken(in: request.headers),
            let claims = try? await authority.verifySignature(token)
        else {
            throw SwitchboardError(kind: .forbidden, code: "access_token_required", detail: "Sign out with the access token itself as the bearer credential.")
        }
        try await revoke(claims, context: context)
        return Response(status: .noContent)
    }

    /// Revokes an access token of the caller's tenant whose scopes the caller holds.
    @Sendable func revoke(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await CollectedBody.collect(request, context: context).decode(RevokeBody.self)
        let principal = context.requirePrincipal
        guard let claims = try? await authority.verifySignature(body.token), claims.tenantID == principal.tenantID else {
            throw SwitchboardError(kind: .notFound, code: "access_token_not_found", detail: "The token is not an access token of this tenant.")
        }
        let scopes = Set(claims.scope.split(separator: " ").compactMap { try? Scope.parse(String($0)) })
        try CredentialAuthority(principal: principal, ownKey: nil).checkManageable(scopes, what: "access token")
        try await revoke(claims, context: context)
        return Response(status: .noContent)
    }

    private func revoke(_ claims: AccessTokenAuthority.Claims, context: AppRequestContext) async throws {
        try await store.revokeToken(id: claims.jti.value, expiresAt: claims.exp.value)
        verifier.revocations.invalidate { _ in true }
        try await audit.record(.accessTokenRevoked, context: context, target: "access_token:\(claims.jti.value)", detail: ["subject": claims.sub.value])
    }

    @Sendable func token(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = context.requirePrincipal
        guard principal.method == .plugin else {
            throw SwitchboardError(
                kind: .forbidden,
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
