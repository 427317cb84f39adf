import Foundation
import SwitchboardCore

extension SQLStore: OAuthStore {
    public func createOAuthClient(tenant: String, name: String, scopes: Set<Scope>) async throws -> (client: OAuthClient, secret: String) {
        let client = OAuthClient(id: ids.make(), tenantID: tenant, name: try name.validatedName(), scopes: scopes, createdAt: Self.now())
        let secret = OAuthClient.Secret.make()
        try await writeSettings { db in
            guard try db.queryFirst("SELECT 1 FROM tenants WHERE id = ?", [.text(tenant)], { _ in true }) != nil else {
                throw SwitchboardError.notFound("tenant")
            }
            try db.run(
                "INSERT INTO oauth_clients (id, tenant_id, name, secret_hash, scopes, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    .text(client.id), .text(tenant), .text(client.name), .text(OAuthClient.Secret.hash(secret)),
                    .text(scopes.sorted().map(\.name).joined(separator: " ")), SQLValue(client.createdAt),
                ]
            )
        }
        return (client, secret)
    }

    public func oauthClients(tenant: String) async throws -> [OAuthClient] {
        try await read { db in
            try db.query("SELECT \(Self.clientColumns) FROM oauth_clients WHERE tenant_id = ? ORDER BY id", [.text(tenant)], Self.clientRow)
        }
    }

    public func oauthClient(id: String) async throws -> OAuthClient? {
        try await read { db in try db.queryFirst("SELECT \(Self.clientColumns) FROM oauth_clients WHERE id = ?", [.text(id)], Self.clientRow) }
    }

    public func authenticateOAuthClient(id: String, secret: String) async throws -> OAuthClient? {
        try await read { db in
            try db.queryFirst(
                "SELECT \(Self.clientColumns) FROM oauth_clients WHERE id = ? AND secret_hash = ?",
                [.text(id), .text(OAuthClient.Secret.hash(secret))],
                Self.clientRow
            )
        }
    }

    public func revokeOAuthClient(id: String, tenant: String) async throws -> OAuthClient {
        try await writeSettings { db in
            try db.run(
                "UPDATE oauth_clients SET revoked_at = coalesce(revoked_at, ?) WHERE tenant_id = ? AND id = ?",
                [SQLValue(Self.now()), .text(tenant), .text(id)]
            )
            guard
                let client = try db.queryFirst(
                    "SELECT \(Self.clientColumns) FROM oauth_clients WHERE tenant_id = ? AND id = ?",
                    [.text(tenant), .text(id)],
                    Self.clientRow
                )
            else { throw SwitchboardError.notFound("oauth_client") }
            return client
        }
    }

    public func signingKeys() async throws -> [SigningKeyRecord] {
        try await read { db in
            try db.query("SELECT id, private_key, created_at FROM signing_keys ORDER BY created_at, id", []) { row in
                SigningKeyRecord(id: row.text(0), sealedPrivateKey: row.text(1), createdAt: row.date(2))
            }
        }
    }

    public func addSigningKey(_ key: SigningKeyRecord) async throws {
        try await writeSettings { db in
            try db.run(
                "INSERT INTO signing_keys (id, private_key, created_at) VALUES (?, ?, ?)",
                [.text(key.id), .text(key.sealedPrivateKey), SQLValue(key.createdAt)]
            )
        }
    }

    public func removeSigningKeys(createdBefore date: Date) async throws {
        try await writeSettings { db in try db.run("DELETE FROM signing_keys WHERE created_at < ?", [SQLValue(date)]) }
    }

    public func revokeToken(id: String, expiresAt: Date) async throws {
        try await writeSettings { db in
            // Kept 5 minutes past expiry: tokens are accepted with a clock skew allowance.
            try db.run("DELETE FROM revoked_tokens WHERE expires_at < ?", [SQLValue(Self.now().addingTimeInterval(-300))])
            try db.run("INSERT INTO revoked_tokens (id, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING", [.text(id), SQLValue(expiresAt)])
        }
    }

    public func isTokenRevoked(id: String) async throws -> Bool {
        try await read { db in try db.queryFirst("SELECT 1 FROM revoked_tokens WHERE id = ?", [.text(id)], { _ in true }) ?? false }
    }

    private static let clientColumns = "id, tenant_id, name, scopes, created_at, revoked_at"

    private static func clientRow(_ row: SQLRow) throws -> OAuthClient {
        OAuthClient(
            id: row.text(0),
            tenantID: row.text(1),
            name: row.text(2),
            scopes: try Scope.parseList(row.text(3)),
            createdAt: row.date(4),
            revokedAt: row.optionalDate(5)
        )
    }
}
