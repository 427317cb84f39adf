/// Tenants, their security settings and the API keys bound to them.
public protocol TenantDirectory: Sendable {
    func createTenant(name: String) async throws -> Tenant
    func tenant(id: String) async throws -> Tenant?
    func tenants() async throws -> [Tenant]
    /// Creates a key (`settings.name` required) and returns it with its secret, which is stored only as a hash.
    func createAPIKey(tenant: String, settings: APIKeySettings) async throws -> (key: APIKey, secret: String)
    func apiKeys(tenant: String) async throws -> [APIKey]
    func apiKey(id: String, tenant: String) async throws -> APIKey?
    /// Changes a live key's settings.
    /// - Throws: `api_key_not_found`, or `api_key_revoked` for a revoked key.
    func updateAPIKey(id: String, tenant: String, settings: APIKeySettings) async throws -> APIKey
    /// Replaces a live key's secret; the old secret stops working at once.
    /// - Throws: `api_key_not_found`, or `api_key_revoked` for a revoked key.
    func rotateAPIKey(id: String, tenant: String) async throws -> (key: APIKey, secret: String)
    /// Revokes a key; revoking twice is harmless.
    /// - Throws: `api_key_not_found` when the tenant has no such key.
    func revokeAPIKey(id: String, tenant: String) async throws -> APIKey
    /// The key whose secret this is, live or not (the caller checks `isLive`), or nil.
    func authenticate(secret: String) async throws -> APIKey?
    /// - Throws: `tenant_not_found`.
    func tenantSecurity(tenant: String) async throws -> TenantSecurity
    /// - Throws: `tenant_not_found`.
    func setTenantSecurity(_ security: TenantSecurity, tenant: String) async throws
    /// - Throws: `tenant_not_found`.
    func tenantSettings(tenant: String) async throws -> TenantSettings
    /// - Throws: `tenant_not_found`.
    func setTenantSettings(_ settings: TenantSettings, tenant: String) async throws
}
