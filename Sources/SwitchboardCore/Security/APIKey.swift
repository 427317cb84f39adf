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

/// What a credential may do to another credential of its tenant: never more than it may do itself.
///
/// A key manager acts on a key (update, rotate, revoke, its signing keys) or an OAuth client only when
/// it holds every scope of it and, for a key, the key is at least as restricted as the manager's own
/// API key (expiry, networks, rate limit); otherwise rotating it would hand over a stronger credential.
/// A key it creates or changes must end up as restricted, so it cannot lift its own restrictions
/// either, through a new key or its own.
public struct CredentialAuthority: Sendable {
    /// The acting principal.
    public var principal: Principal
    /// The principal's own API key, when it authenticated with one (directly or by a signature).
    public var ownKey: APIKey?

    public init(principal: Principal, ownKey: APIKey?) {
        self.principal = principal
        self.ownKey = ownKey
    }

    /// The scopes of `scopes` the principal lacks, sorted; empty when it may act on a credential holding them.
    public func withheld(_ scopes: Set<Scope>) -> [Scope] {
        scopes.filter { !principal.allows($0) }.sorted()
    }

    /// - Throws: 403 `credential_not_manageable` when the credential holds a scope the principal lacks.
    public func checkManageable(_ scopes: Set<Scope>, what: String) throws {
        if let scope = withheld(scopes).first {
            throw SwitchboardError(
                kind: .forbidden,
                code: "credential_not_manageable",
                detail: "This \(what) holds '\(scope.name)', which you lack; only a credential holding all its scopes may manage it."
            )
        }
    }

    /// - Throws: 403 `credential_not_manageable` when the key holds a scope the principal lacks or is
    ///   less restricted than the principal's own key.
    public func checkManageable(_ key: APIKey) throws {
        try checkManageable(key.scopes, what: "key")
        do {
            try checkRestrictions(expiresAt: key.expiresAt, allowedIPs: key.allowedIPs, rateLimit: key.rateLimit)
        } catch let error as SwitchboardError {
            throw SwitchboardError(kind: .forbidden, code: "credential_not_manageable", detail: "This key is less restricted than yours: \(error.detail)")
        }
    }

    /// - Throws: 403 `scope_not_grantable` for a scope the principal lacks.
    public func checkGrantable(_ scopes: Set<Scope>) throws {
        if let scope = withheld(scopes).first {
            throw SwitchboardError(
                kind: .forbidden,
                code: "scope_not_grantable",
                detail: "A credential can grant only scopes its creator holds; you lack '\(scope.name)'.",
                field: "scopes"
            )
        }
    }

    /// The settings of a new key, with the restrictions of the manager's own key filled in where the
    /// request leaves them out.
    /// - Throws: 403 `restriction_not_liftable` when a setting is looser than the manager's own key.
    public func newKeySettings(_ settings: APIKeySettings) throws -> APIKeySettings {
        var settings = settings
        if let own = ownKey {
            if settings.expiresAt == nil { settings.expiresAt = .some(own.expiresAt) }
            if settings.allowedIPs == nil { settings.allowedIPs = own.allowedIPs }
            if settings.rateLimit == nil { settings.rateLimit = .some(own.rateLimit) }
        }
        try checkRestrictions(expiresAt: settings.expiresAt ?? nil, allowedIPs: settings.allowedIPs ?? [], rateLimit: settings.rateLimit ?? nil)
        return settings
    }

    /// Checks the key `existing` would become with `settings`.
    /// - Throws: as `checkManageable(_:)` and `checkGrantable(_:)`; 403 `restriction_not_liftable`
    ///   when a setting is looser than the manager's own key.
    public func checkUpdate(of existing: APIKey, to settings: APIKeySettings) throws {
        try checkManageable(existing)
        try settings.scopes.map(checkGrantable)
        try checkRestrictions(
            expiresAt: settings.expiresAt ?? existing.expiresAt,
            allowedIPs: settings.allowedIPs ?? existing.allowedIPs,
            rateLimit: settings.rateLimit ?? existing.rateLimit
        )
    }

    /// For credentials that carry no restrictions (OAuth clients and their tokens).
    /// - Throws: 403 `restriction_not_liftable` when the manager's own key is restricted in any way.
    public func checkCanCreateUnrestricted() throws {
        do {
            try checkRestrictions(expiresAt: nil, allowedIPs: [], rateLimit: nil)
        } catch let error as SwitchboardError {
            throw SwitchboardError(
                kind: .forbidden,
                code: "restriction_not_liftable",
                detail: "Your key has an expiry, networks or a rate limit; an OAuth client carries none, so only an unrestricted credential creates one.",
                field: error.field
            )
        }
    }

    private func checkRestrictions(expiresAt: Date?, allowedIPs: [IPAddressRange], rateLimit: Int?) throws {
        guard let own = ownKey else { return }
        func refuse(_ field: String, _ detail: String) -> SwitchboardError {
            SwitchboardError(kind: .forbidden, code: "restriction_not_liftable", detail: detail, field: field)
        }
        if let limit = own.expiresAt, (expiresAt.map { $0 > limit } ?? true) {
            throw refuse("expires_at", "Your key expires; a key you manage must expire no later than yours.")
        }
        if !own.allowedIPs.isEmpty, allowedIPs.isEmpty || !allowedIPs.allSatisfy({ range in own.allowedIPs.contains { $0.contains(range) } }) {
            throw refuse("allowed_ips", "Your key is limited to some networks; a key you manage must be limited to networks within them.")
        }
        if let limit = own.rateLimit, (rateLimit.map { $0 > limit } ?? true) {
            throw refuse("rate_limit", "Your key has a rate limit; a key you manage must have one no higher.")
        }
    }
}
