import Foundation
import Hummingbird
import SwitchboardCore

/// Bearer JWT access tokens this server issued (`/oauth/token`): the header's algorithm must be
/// ES256 and its `kid` a published key; issuer, audience and times are checked with a clock-skew
/// allowance; revoked tokens and tokens of revoked clients are refused.
struct AccessTokenVerifier: CredentialVerifier {
    let authority: AccessTokenAuthority
    let store: any OAuthStore
    /// Clients by id, so a revoked client's tokens stop working.
    let clients: ExpiringCache<String, OAuthClient>
    /// Revocation state by token id.
    let revocations: ExpiringCache<String, Bool>
    /// How far clocks may disagree when checking `exp`, `nbf` and `iat`.
    static let clockSkew: TimeInterval = 60

    func verify(_ request: inout Request, context: AppRequestContext) async throws -> VerifiedCredential? {
        guard let token = APIKeyVerifier.bearerToken(in: request.headers), !token.hasPrefix(APIKeySecret.prefix) else { return nil }
        let parts = try JWTParts(token)
        guard parts.issuer == authority.settings.issuer else { return nil }
        guard parts.algorithm == "ES256" else {
            throw AuthenticationFailure(reason: "algorithm_not_allowed", detail: "Access tokens of this server are signed with ES256.")
        }
        let claims: AccessTokenAuthority.Claims
        do {
            claims = try await authority.verifySignature(token)
        } catch {
            throw AuthenticationFailure(reason: "bad_signature", detail: "The access token's signature does not verify.")
        }
        try Self.checkTimes(expires: claims.exp.value, notBefore: nil, issuedAt: claims.iat.value, tenantID: claims.tenantID, subject: claims.sub.value)
        guard claims.aud.value.contains(authority.settings.audience) else {
            throw AuthenticationFailure(reason: "wrong_audience", detail: "The access token is not meant for this server.", tenantID: claims.tenantID, subject: claims.sub.value)
        }
        if try await revocations.value(claims.jti.value, load: { try await store.isTokenRevoked(id: claims.jti.value) }) == true {
            throw AuthenticationFailure(reason: "revoked", detail: "The access token was revoked.", tenantID: claims.tenantID, subject: claims.sub.value)
        }
        guard let clientID = claims.clientID else { return try Self.signedIn(claims) }
        let client = try await clients.value(clientID) { try await store.oauthClient(id: clientID) }
        guard let client, client.revokedAt == nil, client.tenantID == claims.tenantID else {
            throw AuthenticationFailure(reason: "revoked", detail: "The access token's client was revoked.", tenantID: claims.tenantID, subject: claims.sub.value)
        }
        // A token holds at most what its client holds now.
        let scopes = try Scope.parseList(claims.scope).intersection(client.scopes)
        return VerifiedCredential(
            principal: Principal(tenantID: claims.tenantID, subject: client.id, role: scopes.contains(.admin) ? .admin : .integration, scopes: scopes, method: .accessToken)
        )
    }

    /// The principal of a sign-in token: its subject and role, its scopes capped by the role.
    private static func signedIn(_ claims: AccessTokenAuthority.Claims) throws -> VerifiedCredential {
        guard let role = claims.role.flatMap(Role.init(named:)) else {
            throw AuthenticationFailure(reason: "malformed", detail: "The access token names neither a client nor a role.", tenantID: claims.tenantID, subject: claims.sub.value)
        }
        var scopes = try Scope.parseList(claims.scope)
        if let maximum = role.maximumScopes { scopes.formIntersection(maximum) }
        return VerifiedCredential(principal: Principal(tenantID: claims.tenantID, subject: claims.sub.value, role: role, scopes: scopes, method: .accessToken))
    }

    /// Refuses a token outside its validity window, allowing `clockSkew` either way.
    static func checkTimes(expires: Date?, notBefore: Date?, issuedAt: Date?, tenantID: String?, subject: String?) throws {
        let now = Date()
        if let expires, expires.addingTimeInterval(clockSkew) <= now {
            throw AuthenticationFailure(reason: "expired", detail: "The token has expired.", tenantID: tenantID, subject: subject)
        }
        if let notBefore, notBefore.addingTimeInterval(-clockSkew) > now {
            throw AuthenticationFailure(reason: "not_yet_valid", detail: "The token is not valid yet (nbf).", tenantID: tenantID, subject: subject)
        }
        if let issuedAt, issuedAt.addingTimeInterval(-clockSkew) > now {
            throw AuthenticationFailure(reason: "issued_in_future", detail: "The token was issued in the future (iat).", tenantID: tenantID, subject: subject)
        }
    }
}

/// The unverified header and payload of a compact JWS, read to choose how to verify it.
struct JWTParts {
    let header: JSONValue
    let payload: JSONValue

    /// - Throws: `AuthenticationFailure` (`malformed`) for anything but three base64url JSON parts.
    init(_ token: String) throws {
        let segments = token.split(separator: ".", omittingEmptySubsequences: false)
        guard segments.count == 3, let header = Self.json(segments[0]), let payload = Self.json(segments[1]),
            case .object = header, case .object = payload
        else { throw AuthenticationFailure(reason: "malformed", detail: "The bearer token is neither an API key nor a JWT.") }
        self.header = header
        self.payload = payload
    }

    var algorithm: String? { header["alg"].flatMap(\.stringValue) }
    var keyID: String? { header["kid"].flatMap(\.stringValue) }
    var issuer: String? { payload["iss"].flatMap(\.stringValue) }
    /// The `aud` claim, a string or an array of strings.
    var audiences: [String] {
        switch payload["aud"] {
        case .string(let audience)?: [audience]
        case .array(let values)?: values.compactMap(\.stringValue)
        default: []
        }
    }

    private static func json(_ segment: Substring) -> JSONValue? {
        var base64 = segment.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64) else { return nil }
        return try? JSONValue(parsing: data)
    }
}
