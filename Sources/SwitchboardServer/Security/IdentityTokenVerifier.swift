import Foundation
import Hummingbird
import JWTKit
import SwitchboardCore

/// Bearer JWTs of a tenant's own token issuers (`/api/v1/token-issuers`): agents' and visitors'
/// identity tokens signed by the tenant's backend (HS256) or by its identity provider (JWKS).
///
/// The token's `iss` names the issuer, and with its `aud` the one tenant it is for; its `alg` must be one the issuer allows;
/// `exp` is required, `nbf` and `iat` are checked with a clock-skew allowance, `aud` must name the
/// issuer's audience. Claims map to the principal: `sub`, `role` (else the issuer's default role),
/// and `scope` (space-separated) or `scp` (array), capped by the role.
struct IdentityTokenVerifier: CredentialVerifier {
    let providers: IdentityProviders

    struct Claims: JWTPayload {
        var iss: IssuerClaim
        var sub: SubjectClaim
        var aud: AudienceClaim
        var exp: ExpirationClaim
        var nbf: NotBeforeClaim?
        var iat: IssuedAtClaim?
        var role: String?
        var scope: String?
        var scp: [String]?

        /// Times and audience are checked by the verifier, with a clock-skew allowance.
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    static let unverified =
        "The token does not verify: its issuer and audience are not registered, its algorithm is not allowed, its signature is wrong or sub, aud or exp is missing."

    func verify(_ request: inout Request, context: AppRequestContext) async throws -> VerifiedCredential? {
        guard let token = APIKeyVerifier.bearerToken(in: request.headers), !token.hasPrefix(APIKeySecret.prefix) else { return nil }
        let parts = try JWTParts(token)
        // Until the signature verifies, every refusal reads the same to the client, so an unsigned token
        // cannot tell which issuers tenants trust; the audit log has the reason.
        guard let iss = parts.issuer, let (issuer, keys) = try await providers.keys(for: iss, audiences: parts.audiences, kid: parts.keyID) else {
            throw AuthenticationFailure(reason: "unknown_issuer", detail: Self.unverified)
        }
        func failure(_ reason: String, _ detail: String, subject: String? = nil) -> AuthenticationFailure {
            AuthenticationFailure(reason: reason, detail: detail, tenantID: issuer.tenantID, subject: subject)
        }
        if issuer.kind == .introspection {
            let answer = try await providers.introspect(token, issuer: issuer)
            try AccessTokenVerifier.checkTimes(expires: answer.expires, notBefore: nil, issuedAt: nil, tenantID: issuer.tenantID, subject: answer.subject)
            return try Self.credential(subject: answer.subject, role: answer.role, scopes: answer.scope.map { $0.split(separator: " ").map(String.init) }, issuer: issuer)
        }
        guard let algorithm = parts.algorithm, issuer.algorithms.contains(algorithm) else {
            throw failure("algorithm_not_allowed", Self.unverified)
        }
        let claims: Claims
        do {
            claims = try await keys.verify(token, as: Claims.self)
        } catch {
            throw failure("bad_signature", Self.unverified)
        }
        try AccessTokenVerifier.checkTimes(
            expires: claims.exp.value,
            notBefore: claims.nbf?.value,
            issuedAt: claims.iat?.value,
            tenantID: issuer.tenantID,
            subject: claims.sub.value
        )
        guard claims.aud.value.contains(issuer.audience) else {
            throw failure("wrong_audience", "The token's audience is not '\(issuer.audience)'.", subject: claims.sub.value)
        }
        return try Self.credential(subject: claims.sub.value, role: claims.role, scopes: claims.scope.map { $0.split(separator: " ").map(String.init) } ?? claims.scp, issuer: issuer)
    }

    /// The principal of a verified token's claims: its role (else the issuer's default) and scopes
    /// (else the role's default), capped by the role. Scopes this server does not know (`openid`,
    /// `profile`, …) are ignored.
    private static func credential(subject: String, role roleName: String?, scopes claimed: [String]?, issuer: TokenIssuer) throws(AuthenticationFailure) -> VerifiedCredential {
        guard let role = roleName.map(Role.init(named:)) ?? issuer.defaultRole else {
            throw AuthenticationFailure(reason: "unknown_role", detail: "The role claim must be one of admin, agent, visitor, integration.", tenantID: issuer.tenantID, subject: subject)
        }
        var scopes = claimed.map { names in Set(names.compactMap { try? Scope.parse($0) }) } ?? role.defaultScopes
        if let maximum = role.maximumScopes { scopes.formIntersection(maximum) }
        return VerifiedCredential(principal: Principal(tenantID: issuer.tenantID, subject: subject, role: role, scopes: scopes, method: .jwt))
    }
}
