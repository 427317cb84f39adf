import Foundation

/// A key that signs requests for an API key under HTTP Message Signatures (RFC 9421): a shared
/// HMAC-SHA256 secret, or the public half of a client's Ed25519 key. Its id is the signature's `keyid`.
public struct SignatureKey: Hashable, Sendable {
    /// The RFC 9421 algorithm.
    public struct Algorithm: NamedOption {
        public let name: String

        private init(_ name: String) {
            self.name = name
        }

        public static let hmacSHA256 = Algorithm("hmac-sha256")
        public static let ed25519 = Algorithm("ed25519")
        public static let all: [Algorithm] = [.hmacSHA256, .ed25519]
    }

    /// The `keyid`.
    public var id: String
    public var tenantID: String
    /// The API key whose principal a signed request acts as.
    public var apiKeyID: String
    public var algorithm: Algorithm
    public var createdAt: Date

    /// Creates a record.
    public init(id: String, tenantID: String, apiKeyID: String, algorithm: Algorithm, createdAt: Date) {
        self.id = id
        self.tenantID = tenantID
        self.apiKeyID = apiKeyID
        self.algorithm = algorithm
        self.createdAt = createdAt
    }
}

extension SignatureKey: Encodable {
    enum CodingKeys: String, CodingKey {
        case id = "keyid"
        case tenantID = "tenant_id"
        case apiKeyID = "api_key_id"
        case algorithm
        case createdAt = "created_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(tenantID, forKey: .tenantID)
        try container.encode(apiKeyID, forKey: .apiKeyID)
        try container.encode(algorithm.name, forKey: .algorithm)
        try container.encode(createdAt, forKey: .createdAt)
    }
}
