import Crypto
import Foundation

/// A client of the OAuth 2.0 client-credentials grant, bound to one tenant; its secret is stored hashed.
public struct OAuthClient: Hashable, Sendable {
    /// The `client_id`.
    public var id: String
    public var tenantID: String
    public var name: String
    /// The most a token of this client may hold; a token request may ask for fewer.
    public var scopes: Set<Scope>
    public var createdAt: Date
    public var revokedAt: Date?

    /// Creates a client record.
    public init(id: String, tenantID: String, name: String, scopes: Set<Scope>, createdAt: Date, revokedAt: Date? = nil) {
        self.id = id
        self.tenantID = tenantID
        self.name = name
        self.scopes = scopes
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }

    /// Makes client secrets (`sbcs_` and 32 base62 characters) and their stored hashes.
    public enum Secret {
        public static let prefix = "sbcs_"

        public static func make() -> String {
            prefix + APIKeySecret.randomText(count: 32)
        }

        public static func hash(_ secret: String) -> String {
            APIKeySecret.hash(secret)
        }
    }
}

extension OAuthClient: Encodable {
    enum CodingKeys: String, CodingKey {
        case id = "client_id"
        case tenantID = "tenant_id"
        case name, scopes
        case createdAt = "created_at"
        case revokedAt = "revoked_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(tenantID, forKey: .tenantID)
        try container.encode(name, forKey: .name)
        try container.encode(scopes.sorted().map(\.name), forKey: .scopes)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(revokedAt, forKey: .revokedAt)
    }
}

/// A key the server signs its access tokens with; the private key is stored sealed.
public struct SigningKeyRecord: Hashable, Sendable {
    /// The JWK `kid`.
    public var id: String
    /// The private key, sealed by the server's `SecretBox`.
    public var sealedPrivateKey: String
    public var createdAt: Date

    /// Creates a record.
    public init(id: String, sealedPrivateKey: String, createdAt: Date) {
        self.id = id
        self.sealedPrivateKey = sealedPrivateKey
        self.createdAt = createdAt
    }
}
