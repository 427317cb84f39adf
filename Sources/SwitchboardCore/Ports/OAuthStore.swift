import Foundation

/// OAuth 2.0 clients, the server's token-signing keys and revoked tokens.
public protocol OAuthStore: Sendable {
    /// Creates a client and returns it with its secret, which is stored only as a hash.
    /// - Throws: `tenant_not_found`; `invalid_field` for a bad name.
    func createOAuthClient(tenant: String, name: String, scopes: Set<Scope>) async throws -> (client: OAuthClient, secret: String)
    func oauthClients(tenant: String) async throws -> [OAuthClient]
    /// A client of any tenant by its id, live or not.
    func oauthClient(id: String) async throws -> OAuthClient?
    /// The client whose id and secret these are, live or not, or nil.
    func authenticateOAuthClient(id: String, secret: String) async throws -> OAuthClient?
    /// Revokes a client; revoking twice is harmless.
    /// - Throws: `oauth_client_not_found`.
    func revokeOAuthClient(id: String, tenant: String) async throws -> OAuthClient
    /// Every signing key, oldest first.
    func signingKeys() async throws -> [SigningKeyRecord]
    func addSigningKey(_ key: SigningKeyRecord) async throws
    /// Forgets keys created before `date`.
    func removeSigningKeys(createdBefore date: Date) async throws
    /// Marks a token id revoked until the token expires anyway.
    func revokeToken(id: String, expiresAt: Date) async throws
    func isTokenRevoked(id: String) async throws -> Bool
}
