import Foundation

/// A bearer API key as listed: never the secret itself, which is shown once at creation and rotation.
public struct APIKey: Hashable, Sendable {
    public var id: String
    public var tenantID: String
    public var name: String
    /// The first characters of the secret, enough to recognise it.
    public var prefix: String
    public var scopes: Set<Scope>
    public var expiresAt: Date?
    /// Client networks the key may be used from; empty means anywhere the tenant allows.
    public var allowedIPs: [IPAddressRange]
    /// Requests per minute for this key, replacing the server's per-credential default.
    public var rateLimit: Int?
    public var createdAt: Date
    public var lastUsedAt: Date?
    public var revokedAt: Date?

    /// Creates a key record.
    public init(
        id: String,
        tenantID: String,
        name: String,
        prefix: String,
        scopes: Set<Scope>,
        expiresAt: Date? = nil,
        allowedIPs: [IPAddressRange] = [],
        rateLimit: Int? = nil,
        createdAt: Date,
        lastUsedAt: Date? = nil,
        revokedAt: Date? = nil
    ) {
        self.id = id
        self.tenantID = tenantID
        self.name = name
        self.prefix = prefix
        self.scopes = scopes
        self.expiresAt = expiresAt
        self.allowedIPs = allowedIPs
        self.rateLimit = rateLimit
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
    }

    /// Whether the key authenticates at `date`: not revoked and not expired.
    public func isLive(at date: Date) -> Bool {
        revokedAt == nil && expiresAt.map { $0 > date } ?? true
    }

    /// The principal the key authenticates as: `admin` when it holds the admin scope, else `integration`.
    public var principal: Principal {
        Principal(tenantID: tenantID, subject: id, role: scopes.contains(.admin) ? .admin : .integration, scopes: scopes, method: .apiKey)
    }
}

extension APIKey: Encodable {
    enum CodingKeys: String, CodingKey {
        case id, name, prefix, scopes
        case tenantID = "tenant_id"
        case expiresAt = "expires_at"
        case allowedIPs = "allowed_ips"
        case rateLimit = "rate_limit"
        case createdAt = "created_at"
        case lastUsedAt = "last_used_at"
        case revokedAt = "revoked_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(tenantID, forKey: .tenantID)
        try container.encode(name, forKey: .name)
        try container.encode(prefix, forKey: .prefix)
        try container.encode(scopes.sorted().map(\.name), forKey: .scopes)
        try container.encode(expiresAt, forKey: .expiresAt)
        try container.encode(allowedIPs.map(\.description), forKey: .allowedIPs)
        try container.encode(rateLimit, forKey: .rateLimit)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(lastUsedAt, forKey: .lastUsedAt)
        try container.encode(revokedAt, forKey: .revokedAt)
    }
}

/// What a new key or a key update sets; nil fields keep their current value on update.
public struct APIKeySettings: Hashable, Sendable {
    public var name: String?
    public var scopes: Set<Scope>?
    /// A double optional: `.some(nil)` removes the expiry.
    public var expiresAt: Date??
    public var allowedIPs: [IPAddressRange]?
    /// A double optional: `.some(nil)` returns the key to the server's default limit.
    public var rateLimit: Int??

    /// Creates settings.
    public init(name: String? = nil, scopes: Set<Scope>? = nil, expiresAt: Date?? = nil, allowedIPs: [IPAddressRange]? = nil, rateLimit: Int?? = nil) {
        self.name = name
        self.scopes = scopes
        self.expiresAt = expiresAt
        self.allowedIPs = allowedIPs
        self.rateLimit = rateLimit
    }
}
