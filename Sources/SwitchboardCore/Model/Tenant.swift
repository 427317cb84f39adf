import Foundation

/// A business using Switchboard; every other record belongs to exactly one tenant.
public struct Tenant: Codable, Hashable, Sendable {
    public var id: String
    public var name: String
    public var createdAt: Date

    enum CodingKeys: String, CodingKey {
        case id, name
        case createdAt = "created_at"
    }

    /// Creates a tenant record.
    public init(id: String, name: String, createdAt: Date) {
        self.id = id
        self.name = name
        self.createdAt = createdAt
    }
}

/// A bearer API key as listed: never the secret itself, which is shown once at creation.
public struct APIKey: Codable, Hashable, Sendable {
    public var id: String
    public var tenantID: String
    public var name: String
    /// The first characters of the secret, enough to recognise it.
    public var prefix: String
    public var createdAt: Date
    public var lastUsedAt: Date?
    public var revokedAt: Date?

    enum CodingKeys: String, CodingKey {
        case id, name, prefix
        case tenantID = "tenant_id"
        case createdAt = "created_at"
        case lastUsedAt = "last_used_at"
        case revokedAt = "revoked_at"
    }

    /// Creates a key record.
    public init(id: String, tenantID: String, name: String, prefix: String, createdAt: Date, lastUsedAt: Date? = nil, revokedAt: Date? = nil) {
        self.id = id
        self.tenantID = tenantID
        self.name = name
        self.prefix = prefix
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
    }
}

/// Who is calling: resolved from a credential, never from the request body.
public struct Principal: Hashable, Sendable {
    public var tenantID: String
    /// The API key that authenticated the call.
    public var keyID: String

    /// Creates a principal.
    public init(tenantID: String, keyID: String) {
        self.tenantID = tenantID
        self.keyID = keyID
    }
}
