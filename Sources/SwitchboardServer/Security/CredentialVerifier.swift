import Crypto
import Foundation
import Hummingbird
import SwitchboardCore

/// A credential that checked out: who is calling, and the restrictions the credential itself carries.
package struct VerifiedCredential: Sendable {
    var principal: Principal
    /// Client networks the credential may be used from; empty means anywhere the tenant allows.
    var allowedIPs: [IPAddressRange] = []
    /// Requests per minute for this credential, replacing the server's default.
    var rateLimit: Int?
}

extension VerifiedCredential {
    /// A live API key, with its restrictions.
    init(_ key: APIKey, method: Principal.Method = .apiKey) {
        var principal = key.principal
        principal.method = method
        self.init(principal: principal, allowedIPs: key.allowedIPs, rateLimit: key.rateLimit)
    }
}

/// A credential that was presented and refused.
struct AuthenticationFailure: Error {
    /// Why, for the audit log: `unknown_credential`, `revoked`, `expired`, `malformed`, …
    var reason: String
    /// A sentence for the client that helps without confirming more than the caller already knows.
    var detail: String
    /// The tenant and subject the credential names, when it names one.
    var tenantID: String?
    var subject: String?
}

/// One way of authenticating a request.
package protocol CredentialVerifier: Sendable {
    /// The credential of this kind the request carries, verified.
    /// - Parameter request: the request; a verifier that reads the body puts it back.
    /// - Returns: nil when the request carries no credential of this kind, so the next verifier may try.
    /// - Throws: `AuthenticationFailure` for a credential of this kind that does not check out.
    func verify(_ request: inout Request, context: AppRequestContext) async throws -> VerifiedCredential?
}

/// Bearer API keys: `Authorization: Bearer sb_live_…` or `X-API-Key: sb_live_…`.
package struct APIKeyVerifier: CredentialVerifier {
    let directory: any TenantDirectory
    /// Keys by the SHA-256 of their secret; the secret itself is never kept.
    let cache: ExpiringCache<SecretDigest, APIKey>

    package init(directory: any TenantDirectory, cache: ExpiringCache<SecretDigest, APIKey>) {
        self.directory = directory
        self.cache = cache
    }

    package func verify(_ request: inout Request, context: AppRequestContext) async throws -> VerifiedCredential? {
        guard let secret = Self.secret(in: request.headers) else { return nil }
        guard secret.hasPrefix(APIKeySecret.prefix) else {
            throw AuthenticationFailure(reason: "malformed", detail: "An API key starts with '\(APIKeySecret.prefix)'.")
        }
        guard let key = try await cache.value(SecretDigest(secret), load: { try await directory.authenticate(secret: secret) }) else {
            throw AuthenticationFailure(reason: "unknown_credential", detail: "The API key is not valid.")
        }
        if key.revokedAt != nil {
            throw AuthenticationFailure(reason: "revoked", detail: "The API key was revoked.", tenantID: key.tenantID, subject: key.id)
        }
        if !key.isLive(at: Date()) {
            throw AuthenticationFailure(reason: "expired", detail: "The API key has expired.", tenantID: key.tenantID, subject: key.id)
        }
        return VerifiedCredential(key)
    }

    /// Forgets a changed key, so its next use reads it again.
    func invalidate(keyID: String) {
        cache.invalidate { $0.id == keyID }
    }

    /// The API key a request carries: an `sb_live_` bearer token, or the `X-API-Key` header.
    static func secret(in headers: HTTPFields) -> String? {
        if let token = bearerToken(in: headers), token.hasPrefix(APIKeySecret.prefix) { return token }
        return headers.first(where: { $0.name == .xAPIKey })?.value
    }

    /// The token of `Authorization: Bearer <token>` (the scheme in any case), or nil.
    static func bearerToken(in headers: HTTPFields) -> String? {
        // The first field only: the combining subscript joins every value, which costs more.
        guard let authorization = headers.first(where: { $0.name == .authorization })?.value else { return nil }
        let utf8 = authorization.utf8
        guard utf8.count > 7, zip(utf8.prefix(6), "bearer".utf8).allSatisfy({ $0 | 0x20 == $1 }), utf8.dropFirst(6).first == UInt8(ascii: " ")
        else { return nil }
        return String(Substring(utf8.dropFirst(7).drop(while: { $0 == UInt8(ascii: " ") })))
    }
}

/// The SHA-256 of a secret as four words: a cache key that hashes in four steps, not thirty-two.
package struct SecretDigest: Hashable, Sendable {
    let first, second, third, fourth: UInt64

    init(_ secret: String) {
        let digest = SHA256.hash(data: Array(secret.utf8))
        (first, second, third, fourth) = digest.withUnsafeBytes { bytes in
            (
                bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self), bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
                bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self), bytes.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
            )
        }
    }
}
