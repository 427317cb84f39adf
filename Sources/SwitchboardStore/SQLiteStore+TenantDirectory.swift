import Foundation
import SwitchboardCore

extension SQLiteStore: TenantDirectory {
    /// How stale `last_used_at` may get before an authentication refreshes it.
    static let lastUsedResolution: TimeInterval = 60

    public func createTenant(name: String) async throws -> Tenant {
        let name = try name.validatedName()
        let tenant = Tenant(id: ids.make(), name: name, createdAt: Self.now())
        try await write { db in
            try db.run(
                "INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)",
                [.text(tenant.id), .text(tenant.name), SQLiteValue(tenant.createdAt)]
            )
        }
        return tenant
    }

    public func tenant(id: String) throws -> Tenant? {
        try read { db in try db.queryFirst("SELECT id, name, created_at FROM tenants WHERE id = ?", [.text(id)], Self.tenantRow) }
    }

    public func tenants() throws -> [Tenant] {
        try read { db in try db.query("SELECT id, name, created_at FROM tenants ORDER BY id", [], Self.tenantRow) }
    }

    public func createAPIKey(tenant: String, name: String) async throws -> (key: APIKey, secret: String) {
        let name = try name.validatedName()
        let secret = APIKeySecret.make()
        let key = APIKey(id: ids.make(), tenantID: tenant, name: name, prefix: APIKeySecret.displayPrefix(secret), createdAt: Self.now())
        try await write { db in
            guard try db.queryFirst("SELECT 1 FROM tenants WHERE id = ?", [.text(tenant)], { _ in true }) != nil else {
                throw SwitchboardError.notFound("tenant")
            }
            try db.run(
                "INSERT INTO api_keys (id, tenant_id, name, prefix, secret_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                [.text(key.id), .text(tenant), .text(name), .text(key.prefix), .text(APIKeySecret.hash(secret)), SQLiteValue(key.createdAt)]
            )
        }
        return (key, secret)
    }

    public func apiKeys(tenant: String) throws -> [APIKey] {
        try read { db in
            try db.query("SELECT \(Self.keyColumns) FROM api_keys WHERE tenant_id = ? ORDER BY id", [.text(tenant)], Self.keyRow)
        }
    }

    public func revokeAPIKey(id: String, tenant: String) async throws -> APIKey {
        try await write { db in
            try db.run(
                "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE tenant_id = ? AND id = ?",
                [SQLiteValue(Self.now()), .text(tenant), .text(id)]
            )
            guard
                let key = try db.queryFirst(
                    "SELECT \(Self.keyColumns) FROM api_keys WHERE tenant_id = ? AND id = ?",
                    [.text(tenant), .text(id)],
                    Self.keyRow
                )
            else { throw SwitchboardError.notFound("api_key") }
            return key
        }
    }

    public func authenticate(secret: String) throws -> Principal? {
        guard secret.hasPrefix(APIKeySecret.prefix) else { return nil }
        let hash = APIKeySecret.hash(secret)
        let found = try read { db in
            try db.queryFirst(
                "SELECT id, tenant_id, last_used_at FROM api_keys WHERE secret_hash = ? AND revoked_at IS NULL",
                [.text(hash)]
            ) { row in (principal: Principal(tenantID: row.text(1), keyID: row.text(0)), lastUsed: row.optionalDate(2)) }
        }
        guard let found else { return nil }
        let now = Self.now()
        if found.lastUsed.map({ now.timeIntervalSince($0) > Self.lastUsedResolution }) ?? true {
            let keyID = found.principal.keyID
            writer.submit { db in
                try db.run("UPDATE api_keys SET last_used_at = ? WHERE id = ?", [SQLiteValue(now), .text(keyID)])
            }
        }
        return found.principal
    }

    private static let keyColumns = "id, tenant_id, name, prefix, created_at, last_used_at, revoked_at"

    private static func keyRow(_ row: SQLiteRow) -> APIKey {
        APIKey(
            id: row.text(0),
            tenantID: row.text(1),
            name: row.text(2),
            prefix: row.text(3),
            createdAt: row.date(4),
            lastUsedAt: row.optionalDate(5),
            revokedAt: row.optionalDate(6)
        )
    }

    private static func tenantRow(_ row: SQLiteRow) -> Tenant {
        Tenant(id: row.text(0), name: row.text(1), createdAt: row.date(2))
    }
}

extension String {
    fileprivate func validatedName() throws -> String {
        let trimmed = trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, trimmed.count <= 200 else {
            throw SwitchboardError.invalidField("name", "The name must be 1 to 200 characters.")
        }
        return trimmed
    }
}
