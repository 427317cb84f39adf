import Hummingbird
import SwitchboardCore

/// `/api/v1/oauth-clients`: the calling tenant's OAuth 2.0 clients. A client can hold only scopes its
/// creator holds.
struct OAuthClientController {
    let store: any OAuthStore
    let directory: any TenantDirectory
    let clients: ExpiringCache<String, OAuthClient>
    let audit: AuditRecorder

    func addRoutes(to routes: DocumentedRoutes) {
        routes.on(.post, "/oauth-clients", scope: .keysManage, body: Body.self, use: create)
        routes.on(.get, "/oauth-clients", scope: .keysManage, use: list)
        routes.on(.delete, "/oauth-clients/{id}", scope: .keysManage, use: revoke)
    }

    struct Body: StrictBody {
        var name: String
        var scopes: [String]
        static let fields: Set<String> = ["name", "scopes"]
    }

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await CollectedBody.collect(request, context: context).decode(Body.self)
        let principal = context.requirePrincipal
        let scopes = try APIKeyController.Body.grantable(body.scopes, by: principal)
        try await APIKeyController.authority(context, in: directory).checkCanCreateUnrestricted()
        let (client, secret) = try await store.createOAuthClient(tenant: principal.tenantID, name: body.name, scopes: scopes)
        try await audit.record(.oauthClientCreated, context: context, target: "oauth_client:\(client.id)", detail: ["scopes": body.scopes.sorted().joined(separator: " ")])
        return try .json(WithSecret(resource: client, secret: secret, field: "client_secret"), status: .created)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await .json(ListBody(data: try store.oauthClients(tenant: context.requirePrincipal.tenantID), nextCursor: nil, hasMore: false))
    }

    @Sendable func revoke(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = context.requirePrincipal
        let id = try context.parameters.require("id")
        guard let target = try await store.oauthClient(id: id), target.tenantID == principal.tenantID else {
            throw SwitchboardError.notFound("oauth_client")
        }
        try CredentialAuthority(principal: principal, ownKey: nil).checkManageable(target.scopes, what: "OAuth client")
        let client = try await store.revokeOAuthClient(id: target.id, tenant: principal.tenantID)
        clients.invalidate { $0.id == client.id }
        try await audit.record(.oauthClientRevoked, context: context, target: "oauth_client:\(client.id)")
        return try .json(client)
    }
}
