import Foundation
import HTTPTypes
import Hummingbird
import SwitchboardCore

/// The OAuth 2.0 authorization server: the client-credentials grant (RFC 6749 §4.4), RFC 7662
/// introspection, RFC 7009 revocation, the JWKS and RFC 8414 metadata.
///
/// Errors here use the RFC 6749 §5.2 form (`{"error", "error_description"}`) that OAuth client
/// libraries parse, not problem+json.
struct OAuthController {
    let store: any OAuthStore
    let authority: AccessTokenAuthority
    let verifier: AccessTokenVerifier
    let limiter: RateLimiter
    let failurePolicy: RateLimiter.Policy
    let trustedProxies: [IPAddressRange]

    func addRoutes(to routes: DocumentedRoutes) {
        routes.on(.post, "/oauth/token", use: token)
        routes.on(.post, "/oauth/introspect", use: introspect)
        routes.on(.post, "/oauth/revoke", use: revoke)
        routes.on(.get, "/.well-known/jwks.json", use: jwks)
        routes.on(.get, "/.well-known/oauth-authorization-server", use: metadata)
    }

    /// An RFC 6749 §5.2 error.
    struct OAuthError: Error {
        var status: HTTPResponse.Status = .badRequest
        var code: String
        var description: String
        var usedBasic = false

        var response: Response {
            var headers: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store"]
            if status == .unauthorized { headers[.wwwAuthenticate] = usedBasic ? #"Basic realm="switchboard""# : #"Bearer realm="switchboard""# }
            let body = (try? SwitchboardJSON.encode(JSONValue.object(["error": .string(code), "error_description": .string(description)]))) ?? []
            return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
    }

    @Sendable func token(_ request: Request, context: AppRequestContext) async throws -> Response {
        do {
            let form = try await Self.form(request, context: context)
            let client = try await authenticateClient(request, form: form, context: context)
            guard form["grant_type"] == "client_credentials" else {
                throw OAuthError(code: "unsupported_grant_type", description: "Only grant_type=client_credentials is supported.")
            }
            var scopes = client.scopes
            if let requested = form["scope"] {
                guard let parsed = try? Scope.parseList(requested), parsed.isSubset(of: client.scopes) else {
                    throw OAuthError(code: "invalid_scope", description: "The scope must be a space-separated subset of the client's scopes.")
                }
                scopes = parsed
            }
            let (token, expiresIn) = try await authority.issue(client: client, scopes: scopes)
            let body: JSONValue = [
                "access_token": .string(token), "token_type": "Bearer", "expires_in": JSONValue(Int64(expiresIn)),
                "scope": .string(scopes.sorted().map(\.name).joined(separator: " ")),
            ]
            var response = try Response.json(body)
            response.headers[.cacheControl] = "no-store"
            return response
        } catch let error as OAuthError {
            return error.response
        }
    }

    /// RFC 7662: any live client may ask; a token of another tenant is reported inactive.
    @Sendable func introspect(_ request: Request, context: AppRequestContext) async throws -> Response {
        do {
            let (client, token) = try await clientAndToken(request, context: context)
            var probe = context
            probe.principal = nil
            let inactive = try Response.json(JSONValue.object(["active": .bool(false)]))
            var bearer = Self.bearerRequest(token)
            guard let verified = try? await verifier.verify(&bearer, context: probe), verified.principal.tenantID == client.tenantID,
                let claims = try? await authority.verifySignature(token)
            else { return inactive }
            var fields: [String: JSONValue] = [
                "active": .bool(true), "scope": .string(verified.principal.scopes.sorted().map(\.name).joined(separator: " ")),
                "sub": .string(claims.sub.value), "tenant_id": .string(claims.tenantID),
                "iss": .string(claims.iss.value), "aud": .array(claims.aud.value.map { .string($0) }), "jti": .string(claims.jti.value),
                "exp": JSONValue(Int64(claims.exp.value.timeIntervalSince1970)), "iat": JSONValue(Int64(claims.iat.value.timeIntervalSince1970)),
                "token_type": "Bearer",
            ]
            fields["client_id"] = claims.clientID.map(JSONValue.string)
            fields["role"] = claims.role.map(JSONValue.string)
            return try .json(JSONValue.object(fields))
        } catch let error as OAuthError {
            return error.response
        }
    }

    /// RFC 7009: a client revokes its own tokens; anything else is answered 200 and ignored.
    @Sendable func revoke(_ request: Request, context: AppRequestContext) async throws -> Response {
        do {
            let (client, token) = try await clientAndToken(request, context: context)
            if let claims = try? await authority.verifySignature(token), claims.clientID == client.id {
                try await store.revokeToken(id: claims.jti.value, expiresAt: claims.exp.value)
                verifier.revocations.invalidate { _ in true }
            }
            return Response(status: .ok)
        } catch let error as OAuthError {
            return error.response
        }
    }

    @Sendable func jwks(_ request: Request, context: AppRequestContext) async throws -> Response {
        var response = try Response.json(await authority.jwks())
        response.headers[.contentType] = "application/jwk-set+json"
        response.headers[.cacheControl] = "max-age=300"
        return response
    }

    @Sendable func metadata(_ request: Request, context: AppRequestContext) async throws -> Response {
        let issuer = authority.settings.issuer
        let methods: JSONValue = ["client_secret_basic", "client_secret_post"]
        return try .json(
            JSONValue.object([
                "issuer": .string(issuer), "token_endpoint": .string(issuer + "/oauth/token"), "jwks_uri": .string(issuer + "/.well-known/jwks.json"),
                "introspection_endpoint": .string(issuer + "/oauth/introspect"), "revocation_endpoint": .string(issuer + "/oauth/revoke"),
                "grant_types_supported": ["client_credentials"], "response_types_supported": [],
                "token_endpoint_auth_methods_supported": methods, "introspection_endpoint_auth_methods_supported": methods,
                "revocation_endpoint_auth_methods_supported": methods,
                "scopes_supported": .array(Scope.all.map { .string($0.name) }),
            ])
        )
    }

    /// The authenticated client and the `token` parameter of an introspection or revocation request.
    private func clientAndToken(_ request: Request, context: AppRequestContext) async throws -> (OAuthClient, String) {
        let form = try await Self.form(request, context: context)
        let client = try await authenticateClient(request, form: form, context: context)
        guard let token = form["token"] else { throw OAuthError(code: "invalid_request", description: "The token parameter is required.") }
        return (client, token)
    }

    /// The client of `client_secret_basic` or `client_secret_post` (not both); failures count against
    /// the address's failed-authentication limit.
    private func authenticateClient(_ request: Request, form: [String: String], context: AppRequestContext) async throws -> OAuthClient {
        let address = ClientAddress.resolve(peer: context.remoteAddress, headers: request.headers, trustedProxies: trustedProxies) ?? []
        let now = MonotonicClock.seconds()
        guard limiter.peek(.failures(address), failurePolicy, at: now).isAllowed else {
            throw OAuthError(status: .tooManyRequests, code: "invalid_client", description: "Too many failed authentications from this address; retry later.")
        }
        let basic = BasicCredentials.parse(request.headers).map { (id: $0.user, secret: $0.password) }
        let posted = form["client_id"].map { ($0, form["client_secret"] ?? "") }
        let credentials: (id: String, secret: String)
        switch (basic, posted) {
        case (let basic?, nil): credentials = basic
        case (nil, let posted?): credentials = posted
        case (.some, .some): throw OAuthError(code: "invalid_request", description: "Authenticate the client one way only, not with both Basic and the body.")
        case (nil, nil): throw OAuthError(status: .unauthorized, code: "invalid_client", description: "Client authentication is required.")
        }
        guard let client = try await store.authenticateOAuthClient(id: credentials.id, secret: credentials.secret), client.revokedAt == nil else {
            _ = limiter.spend(.failures(address), failurePolicy, at: now)
            throw OAuthError(status: .unauthorized, code: "invalid_client", description: "Unknown client, wrong secret or revoked client.", usedBasic: basic != nil)
        }
        return client
    }

    /// The `application/x-www-form-urlencoded` body.
    private static func form(_ request: Request, context: AppRequestContext) async throws -> [String: String] {
        guard request.headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true else {
            throw OAuthError(code: "invalid_request", description: "Send the parameters as application/x-www-form-urlencoded.")
        }
        let body = try await CollectedBody.collect(request, context: context).bytes
        var form: [String: String] = [:]
        for pair in String(buffer: body).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = BasicCredentials.formDecode(parts[0])
            guard form[name] == nil else { throw OAuthError(code: "invalid_request", description: "The parameter \(name) appears twice.") }
            form[name] = parts.count == 2 ? BasicCredentials.formDecode(parts[1]) : ""
        }
        return form
    }

    private static func bearerRequest(_ token: String) -> Request {
        Request(
            head: HTTPRequest(method: .get, scheme: nil, authority: nil, path: "/", headerFields: [.authorization: "Bearer \(token)"]),
            body: .init(buffer: ByteBuffer())
        )
    }
}
