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
