import SwitchboardCore

/// First-start setup of an empty database.
public enum Bootstrap {
    /// The demo tenant and its admin key secret, which exists only in this value.
    public struct DemoCredentials: Sendable {
        public let tenant: Tenant
        public let apiKey: APIKey
        public let secret: String
    }

    /// Creates a demo tenant with an admin API key when enabled and the database has no tenant yet.
    /// - Returns: the credentials to print once, or nil when nothing was created.
    public static func prepare(store: any SwitchboardStorage, configuration: SwitchboardConfiguration) async throws -> DemoCredentials? {
        guard configuration.bootstrap.createsDemoTenant, try await store.tenants().isEmpty else { return nil }
        let tenant = try await store.createTenant(name: "Demo")
        let (key, secret) = try await store.createAPIKey(tenant: tenant.id, settings: APIKeySettings(name: "admin", scopes: [.admin]))
        return DemoCredentials(tenant: tenant, apiKey: key, secret: secret)
    }
}
