import Foundation

/// An identity provider whose JWTs a tenant accepts: its own backend signing with a shared HS256
/// secret, an external provider publishing its keys as a JWKS (RS256, ES256, EdDSA), or one that
/// answers for its tokens at an RFC 7662 introspection endpoint.
public struct TokenIssuer: Hashable, Sendable {
    /// How the issuer's signatures are checked.
    public struct Kind: NamedOption {
        public let name: String

        private init(_ name: String) {
            self.name = name
        }

        /// HMAC-SHA256 with a secret the server generates and the tenant's backend holds.
        public static let hs256 = Kind("hs256")
        /// Public keys fetched from `url`, cached and refetched when a new `kid` appears.
        public static let jwks = Kind("jwks")
        /// Each token is checked at the provider's introspection endpoint `url`, as client `clientID`.
        public static let introspection = Kind("introspection")

        public static let all: [Kind] = [.hs256, .jwks, .introspection]
    }

    public var id: String
    public var tenantID: String
    /// The `iss` its tokens carry; unique across tenants, since it is how a token finds its tenant.
    public var issuer: String
    /// The `aud` its tokens must carry.
    public var audience: String
    public var kind: Kind
    /// The JWKS URL of a `jwks` issuer, the introspection endpoint of an `introspection` one.
    public var url: String?
    /// The client an `introspection` issuer knows this server as (its secret is stored sealed).
    public var clientID: String?
    /// The signature algorithms accepted: `HS256` for `hs256`; a subset of RS256, ES256, EdDSA for
    /// `jwks`; none for `introspection`, whose provider checks its own signatures.
    public var algorithms: [String]
    /// The role of a token without a `role` claim.
    public var defaultRole: Role
    public var createdAt: Date

    /// The algorithms a kind may allow; never `none`, never HMAC with published keys.
    public static func allowedAlgorithms(for kind: Kind) -> [String] {
        switch kind {
        case .hs256: ["HS256"]
        case .jwks: ["RS256", "ES256", "EdDSA"]
        default: []
        }
    }

    /// Creates an issuer record.
    public init(
        id: String,
        tenantID: String,
        issuer: String,
        audience: String,
        kind: Kind,
        url: String?,
        clientID: String? = nil,
        algorithms: [String],
        defaultRole: Role,
        createdAt: Date
    ) {
        self.id = id
        self.tenantID = tenantID
        self.issuer = issuer
        self.audience = audience
        self.kind = kind
        self.url = url
        self.clientID = clientID
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
        case introspectionURL = "introspection_url"
        case clientID = "client_id"
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
        try container.encode(kind == .jwks ? url : nil, forKey: .jwksURL)
        try container.encode(kind == .introspection ? url : nil, forKey: .introspectionURL)
        try container.encode(clientID, forKey: .clientID)
        try container.encode(algorithms, forKey: .algorithms)
        try container.encode(defaultRole.name, forKey: .defaultRole)
        try container.encode(createdAt, forKey: .createdAt)
    }
}
