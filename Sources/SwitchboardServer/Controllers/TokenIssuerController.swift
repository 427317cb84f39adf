import Foundation
import Hummingbird
import SwitchboardCore

/// `/api/v1/token-issuers`: the identity providers whose JWTs the calling tenant accepts (admin).
struct TokenIssuerController {
    let store: any TokenIssuerStore
    let providers: IdentityProviders
    let secrets: SecretBox
    let audit: AuditRecorder
    /// Whether `jwks_url` and `introspection_url` may be plain http: only where private networks are
    /// allowed (`security.allow_private_identity_providers`), since keys fetched in the clear can be forged.
    let allowsHTTP: Bool

    func addRoutes(to routes: DocumentedRoutes) {
        routes.on(.post, "/token-issuers", scope: .admin, body: Body.self, use: create)
        routes.on(.get, "/token-issuers", scope: .admin, use: list)
        routes.on(.delete, "/token-issuers/{id}", scope: .admin, use: delete)
    }

    struct Body: StrictBody {
        var issuer: String
        var audience: String
        var kind: String
        var jwksURL: String?
        var introspectionURL: String?
        var clientID: String?
        var clientSecret: String?
        var algorithms: [String]?
        var defaultRole: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case issuer, audience, kind, algorithms
            case jwksURL = "jwks_url"
            case introspectionURL = "introspection_url"
            case clientID = "client_id"
            case clientSecret = "client_secret"
            case defaultRole = "default_role"
        }
        static let fields = Set(CodingKeys.allCases.map(\.stringValue))
    }

    /// Creates an issuer; for `hs256` the answer holds the generated signing secret, shown only now; an
    /// `introspection` issuer's client secret is stored sealed and never shown again.
    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await CollectedBody.collect(request, context: context).decode(Body.self)
        guard let kind = TokenIssuer.Kind(named: body.kind) else {
            throw SwitchboardError.invalidField("kind", "The kind must be one of: \(TokenIssuer.Kind.all.map(\.name).joined(separator: ", ")).")
        }
        for (field, value) in [("issuer", body.issuer), ("audience", body.audience)] where value.isEmpty || value.utf8.count > 500 {
            throw SwitchboardError.invalidField(field, "The \(field) must be 1 to 500 bytes.")
        }
        let allowed = TokenIssuer.allowedAlgorithms(for: kind)
        let algorithms = body.algorithms ?? allowed
        guard kind == .introspection ? body.algorithms == nil : !algorithms.isEmpty && algorithms.allSatisfy(allowed.contains) else {
            throw SwitchboardError.invalidField("algorithms", "A \(kind) issuer allows only \(allowed.joined(separator: ", ")).")
        }
        guard let role = Role(named: body.defaultRole ?? "agent") else {
            throw SwitchboardError.invalidField("default_role", "The role must be one of: \(Role.all.map(\.name).joined(separator: ", ")).")
        }
        // Each kind takes exactly its own fields.
        let fields: [(name: String, value: String?, kind: TokenIssuer.Kind)] = [
            ("jwks_url", body.jwksURL, .jwks), ("introspection_url", body.introspectionURL, .introspection),
            ("client_id", body.clientID, .introspection), ("client_secret", body.clientSecret, .introspection),
        ]
        for field in fields where (field.value != nil) != (field.kind == kind) {
            throw SwitchboardError.invalidField(field.name, field.kind == kind ? "A \(kind) issuer needs \(field.name)." : "Only a \(field.kind) issuer has \(field.name).")
        }
        let url = try (body.jwksURL ?? body.introspectionURL).map { text in
            guard let url = URL(string: text), url.scheme == "https" || (allowsHTTP && url.scheme == "http"), url.host?.isEmpty == false else {
                throw SwitchboardError.invalidField(
                    kind == .jwks ? "jwks_url" : "introspection_url",
                    allowsHTTP ? "The URL must be http(s) with a host." : "The URL must be https with a host."
                )
            }
            return url.absoluteString
        }
        let principal = context.requirePrincipal
        let issuer = TokenIssuer(
            id: TimeOrderedIDGenerator.shared.make(),
            tenantID: principal.tenantID,
            issuer: body.issuer,
            audience: body.audience,
            kind: kind,
            url: url,
            clientID: body.clientID,
            algorithms: algorithms,
            defaultRole: role,
            createdAt: Date()
        )
        let secret = kind == .hs256 ? "sbhs_" + APIKeySecret.randomText(count: 43) : nil
        let sealed = try (secret ?? body.clientSecret).map { try secrets.seal(text: $0, scope: IdentityProviders.secretScope(issuer.id)) }
        try await store.createTokenIssuer(issuer, sealedSecret: sealed)
        await providers.invalidate()
        try await audit.record(.tokenIssuerCreated, context: context, target: "token_issuer:\(issuer.id)", detail: ["issuer": issuer.issuer, "kind": kind.name])
        if let secret { return try .json(WithSecret(resource: issuer, secret: secret), status: .created) }
        return try .json(issuer, status: .created)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await .json(ListBody(data: try store.tokenIssuers(tenant: context.requirePrincipal.tenantID), nextCursor: nil, hasMore: false))
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> Response {
        let issuer = try await store.deleteTokenIssuer(id: try context.parameters.require("id"), tenant: context.requirePrincipal.tenantID)
        await providers.invalidate()
        try await audit.record(.tokenIssuerDeleted, context: context, target: "token_issuer:\(issuer.id)", detail: ["issuer": issuer.issuer])
        return Response(status: .noContent)
    }
}
