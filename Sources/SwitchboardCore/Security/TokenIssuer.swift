import Foundation

/// An identity provider whose JWTs a tenant accepts: its own backend signing with a shared HS256
/// secret, or an external provider publishing its keys as a JWKS (RS256, ES256, EdDSA).
public struct TokenIssuer: Hashable, Sendable {
    /// How the issuer's signatures are checked.
    public struct Kind: NamedOption {
        public let name: String

        private init(_ name: String) {
            self.name = name
        }

        /// HMAC-SHA256 with a secret the server generates and the tenant's backend holds.
        public static let hs256 = Kind("hs256")
        /// Public keys fetched from `jwksURL`, cached and refetched when a new `kid` appears.
        public static let jwks = Kind("jwks")

        public static let all: [Kind] = [.hs256, .jwks]
    }

    public var id: String
    public var tenantID: String
    /// The `iss` its tokens carry; unique across tenants, since it is how a token finds its tenant.
    public var issuer: String
    /// The `aud` its tokens must carry.
    public var audience: String
    public var kind: Kind
    public var jwksURL: String?
    /// The signature algorithms accepted: `HS256` for `hs256`; a subset of RS256, ES256, EdDSA for `jwks`.
    public var algorithms: [String]
    /// The role of a token without a `role` claim.
    public var defaultRole: Role
    public var createdAt: Date

    /// The algorithms a kind may allow; never `none`, never HMAC with published keys.
    public static func allowedAlgorithms(for kind: Kind) -> [String] {
        kind == .hs256 ? ["HS256"] : ["RS256", "ES256", "EdDSA"]
    }

    /// Creates an issuer record.
    public init(
        id: String,
        tenantID: String,
        issuer: String,
        audience: String,
        kind: Kind,
        jwksURL: String?,
        algorithms: [String],
        defaultRole: Role,
        createdAt: Date
    ) {
        self.id = id
        self.tenantID = tenantID
        self.issuer = issuer
        self.audience = audience
        self.kind = kind
        self.jwksURL = jwksURL
        self.algorithms = algorithms
        self.defaultRole = defaultRole
        self.createdAt = createdAt
    }
}

extension TokenIssuer: Encodable {
    enum CodingKeys: String, CodingKey {
        case id, issuer, audience, kind, algorithms
        case tenantID = "tenant_id"
        case jwksURL = "jwks_url"
        case defaultRole = "default_role"
        case createdAt = "created_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(tenantID, forKey: .tenantID)
        try container.encode(issuer, forKey: .issuer)
        try container.encode(audience, forKey: .audience)
        try container.encode(kind.name, forKey: .kind)
        try container.encode(jwksURL, forKey: .jwksURL)
        try container.encode(algorithms, forKey: .algorithms)
        try container.encode(defaultRole.name, forKey: .defaultRole)
        try container.encode(createdAt, forKey: .createdAt)
    }
}
