import Foundation
import SwitchboardCore

extension SQLStore: TenantDirectory {
    /// How stale `last_used_at` may get before an authentication refreshes it.
    static let lastUsedResolution: TimeInterval = 60

    public func createTenant(name: String) async throws -> Tenant {
        let name = try name.validatedName()
        let tenant = Tenant(id: ids.make(), name: name, createdAt: Self.now())
        try await writeSettings { db in
            try db.run(
                "INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)",
                [.text(tenant.id), .text(tenant.name), SQLValue(tenant.createdAt)]
            )
        }
        return tenant
    }

    public func tenant(id: String) async throws -> Tenant? {
        try await read { db in try db.queryFirst("SELECT id, name, created_at FROM tenants WHERE id = ?", [.text(id)], Self.tenantRow) }
    }

    public func tenants() async throws -> [Tenant] {
        try await read { db in try db.query("SELECT id, name, created_at FROM tenants ORDER BY id", [], Self.tenantRow) }
    }

    public func createAPIKey(tenant: String, settings: APIKeySettings) async throws -> (key: APIKey, secret: String) {
        let name = try (settings.name ?? "").validatedName()
        let secret = APIKeySecret.make()
        let key = APIKey(
            id: ids.make(),
            tenantID: tenant,
            name: name,
            prefix: APIKeySecret.displayPrefix(secret),
            scopes: settings.scopes ?? [],
            expiresAt: settings.expiresAt ?? nil,
            allowedIPs: settings.allowedIPs ?? [],
            rateLimit: settings.rateLimit ?? nil,
            createdAt: Self.now()
        )
        try await writeSettings { db in
            guard try db.queryFirst("SELECT 1 FROM tenants WHERE id = ?", [.text(tenant)], { _ in true }) != nil else {
                throw SwitchboardError.notFound("tenant")
            }
            try db.run(
                """
                INSERT INTO api_keys (id, tenant_id, name, prefix, secret_hash, created_at, scopes, expires_at, allowed_ips, rate_limit)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [.text(key.id), .text(tenant), .text(name), .text(key.prefix), .text(APIKeySecret.hash(secret)), SQLValue(key.createdAt)]
                    + Self.settingColumns(key)
            )
        }
        return (key, secret)
    }

    public func apiKeys(tenant: String) async throws -> [APIKey] {
        try await read { db in
            try db.query("SELECT \(Self.keyColumns) FROM api_keys WHERE tenant_id = ? ORDER BY id", [.text(tenant)], Self.keyRow)
        }
    }

    public func apiKey(id: String, tenant: String) async throws -> APIKey? {
        try await read { db in try Self.apiKey(db, id: id, tenant: tenant) }
    }

    public func updateAPIKey(id: String, tenant: String, settings: APIKeySettings) async throws -> APIKey {
        let name = try settings.name.map { try $0.validatedName() }
        return try await writeSettings { db in
            guard var key = try Self.apiKey(db, id: id, tenant: tenant) else { throw SwitchboardError.notFound("api_key") }
            guard key.revokedAt == nil else { throw Self.revokedError }
            if let name { key.name = name }
            if let scopes = settings.scopes { key.scopes = scopes }
            if let expiresAt = settings.expiresAt { key.expiresAt = expiresAt }
            if let allowedIPs = settings.allowedIPs { key.allowedIPs = allowedIPs }
            if let rateLimit = settings.rateLimit { key.rateLimit = rateLimit }
            try db.run(
                "UPDATE api_keys SET scopes = ?, expires_at = ?, allowed_ips = ?, rate_limit = ?, name = ? WHERE tenant_id = ? AND id = ?",
                Self.settingColumns(key) + [.text(key.name), .text(tenant), .text(id)]
            )
            return key
        }
    }

    public func rotateAPIKey(id: String, tenant: String) async throws -> (key: APIKey, secret: String) {
        let secret = APIKeySecret.make()
        let key = try await writeSettings { db in
            guard var key = try Self.apiKey(db, id: id, tenant: tenant) else { throw SwitchboardError.notFound("api_key") }
            guard key.revokedAt == nil else { throw Self.revokedError }
            key.prefix = APIKeySecret.displayPrefix(secret)
            try db.run(
                "UPDATE api_keys SET secret_hash = ?, prefix = ? WHERE tenant_id = ? AND id = ?",
                [.text(APIKeySecret.hash(secret)), .text(key.prefix), .text(tenant), .text(id)]
            )
            return key
        }
        return (key, secret)
    }

    public func revokeAPIKey(id: String, tenant: String) async throws -> APIKey {
        try await writeSettings { db in
            try db.run(
                "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE tenant_id = ? AND id = ?",
                [SQLValue(Self.now()), .text(tenant), .text(id)]
            )
            guard let key = try Self.apiKey(db, id: id, tenant: tenant) else { throw SwitchboardError.notFound("api_key") }
            return key
        }
    }

    public func authenticate(secret: String) async throws -> APIKey? {
        guard secret.hasPrefix(APIKeySecret.prefix) else { return nil }
        let hash = APIKeySecret.hash(secret)
        guard
            let key = try await read({ db in
                try db.queryFirst("SELECT \(Self.keyColumns) FROM api_keys WHERE secret_hash = ?", [.text(hash)], Self.keyRow)
            })
        else { return nil }
        let now = Self.now()
        if key.isLive(at: now), key.lastUsedAt.map({ now.timeIntervalSince($0) > Self.lastUsedResolution }) ?? true {
            let keyID = key.id
            writer.submit { db in
                try db.run("UPDATE api_keys SET last_used_at = ? WHERE id = ?", [SQLValue(now), .text(keyID)])
            }
        }
        return key
    }

    public func tenantSecurity(tenant: String) async throws -> TenantSecurity {
        let found = try await read { db in
            try db.queryFirst("SELECT allowed_ips, rate_limit FROM tenants WHERE id = ?", [.text(tenant)]) { row in
                TenantSecurity(allowedIPs: try Self.ranges(row.text(0)), rateLimit: row.isNull(1) ? nil : row.int(1))
            }
        }
        guard let found else { throw SwitchboardError.notFound("tenant") }
        return found
    }

    public func setTenantSecurity(_ security: TenantSecurity, tenant: String) async throws {
        try await writeSettings { db in
            let changed = try db.run(
                "UPDATE tenants SET allowed_ips = ?, rate_limit = ? WHERE id = ?",
                [.text(security.allowedIPs.map(\.description).joined(separator: " ")), security.rateLimit.map { .integer(Int64($0)) } ?? .null, .text(tenant)]
            )
            guard changed == 1 else { throw SwitchboardError.notFound("tenant") }
        }
    }

    public func tenantSettings(tenant: String) async throws -> TenantSettings {
        let found = try await read { db in
            try db.queryFirst("SELECT time_zone FROM tenants WHERE id = ?", [.text(tenant)]) { row in
                // A name the system's time zone data dropped reads as UTC, as the records do (`Rows.zone`).
                TenantSettings(timeZoneName: row.text(0)) ?? TenantSettings()
            }
        }
        guard let found else { throw SwitchboardError.notFound("tenant") }
        return found
    }

    public func setTenantSettings(_ settings: TenantSettings, tenant: String) async throws {
        try await writeSettings { db in
            let changed = try db.run("UPDATE tenants SET time_zone = ? WHERE id = ?", [.text(settings.timeZoneName), .text(tenant)])
            guard changed == 1 else { throw SwitchboardError.notFound("tenant") }
        }
    }

    static let revokedError = SwitchboardError(kind: .conflict, code: "api_key_revoked", detail: "The key is revoked and can no longer change.")

    private static let keyColumns = "id, tenant_id, name, prefix, created_at, last_used_at, revoked_at, scopes, expires_at, allowed_ips, rate_limit"

    private static func apiKey(_ db: any SQLConnection, id: String, tenant: String) throws -> APIKey? {
        try db.queryFirst("SELECT \(keyColumns) FROM api_keys WHERE tenant_id = ? AND id = ?", [.text(tenant), .text(id)], keyRow)
    }

    /// scopes, expires_at, allowed_ips, rate_limit, in that order.
    private static func settingColumns(_ key: APIKey) -> [SQLValue] {
        [
            .text(key.scopes.sorted().map(\.name).joined(separator: " ")), SQLValue(key.expiresAt),
            .text(key.allowedIPs.map(\.description).joined(separator: " ")), key.rateLimit.map { .integer(Int64($0)) } ?? .null,
        ]
    }

    private static func keyRow(_ row: SQLRow) throws -> APIKey {
        APIKey(
            id: row.text(0),
            tenantID: row.text(1),
            name: row.text(2),
            prefix: row.text(3),
            scopes: try Scope.parseList(row.text(7)),
            expiresAt: row.optionalDate(8),
            allowedIPs: try ranges(row.text(9)),
            rateLimit: row.isNull(10) ? nil : row.int(10),
            createdAt: row.date(4),
            lastUsedAt: row.optionalDate(5),
            revokedAt: row.optionalDate(6)
        )
    }

    private static func ranges(_ text: String) throws -> [IPAddressRange] {
        try text.split(separator: " ").map { try IPAddressRange(parsing: String($0)) }
    }

    private static func tenantRow(_ row: SQLRow) -> Tenant {
        Tenant(id: row.text(0), name: row.text(1), createdAt: row.date(2))
    }
}

extension String {
    func validatedName() throws -> String {
        let trimmed = trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, trimmed.count <= 200 else {
            throw SwitchboardError.invalidField("name", "The name must be 1 to 200 characters.")
        }
        return trimmed
    }
}
