/// Tenants and the API keys bound to them.
public protocol TenantDirectory: Sendable {
    func createTenant(name: String) async throws -> Tenant
    func tenant(id: String) throws -> Tenant?
    func tenants() throws -> [Tenant]
    /// Creates a key and returns it with its secret, which is stored only as a hash.
    func createAPIKey(tenant: String, name: String) async throws -> (key: APIKey, secret: String)
    func apiKeys(tenant: String) throws -> [APIKey]
    /// Revokes a key; revoking twice is harmless.
    /// - Throws: `api_key_not_found` when the tenant has no such key.
    func revokeAPIKey(id: String, tenant: String) async throws -> APIKey
    /// The principal of a live key with this secret, or nil.
    func authenticate(secret: String) throws -> Principal?
}
