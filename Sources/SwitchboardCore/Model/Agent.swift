import Foundation

/// A support agent of one tenant.
public struct Agent: Codable, Hashable, Sendable, JSONRecord {
    /// The agent's presence, as the seed spells it.
    public enum Status: String, Codable, Hashable, Sendable, CaseIterable {
        case online, away, busy, offline
    }

    /// What the agent may do; the security envelope maps roles to permissions.
    public enum Role: String, Codable, Hashable, Sendable, CaseIterable {
        case agent, supervisor, admin
    }

    public var id: String
    public var name: String
    public var email: String?
    public var role: Role
    public var status: Status
    public var maxConcurrent: Int
    public var createdAt: Date
    public var updatedAt: Date
    /// Set when the agent was deleted; the row stays as a tombstone.
    public var deletedAt: Date?
    /// Incremented on every change; the HTTP layer shows it as the ETag.
    public var version: Int64

    enum CodingKeys: String, CodingKey {
        case id, name, email, role, status, version
        case maxConcurrent = "max_concurrent"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case deletedAt = "deleted_at"
    }

    /// Creates an agent record.
    public init(
        id: String,
        name: String,
        email: String?,
        role: Role,
        status: Status,
        maxConcurrent: Int,
        createdAt: Date,
        updatedAt: Date,
        deletedAt: Date? = nil,
        version: Int64 = 1
    ) {
        self.id = id
        self.name = name
        self.email = email
        self.role = role
        self.status = status
        self.maxConcurrent = maxConcurrent
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.deletedAt = deletedAt
        self.version = version
    }

    public func encode(to encoder: any Encoder) throws {
        try encodeFields(to: encoder)
    }

    func writeFields(to fields: inout some JSONFieldWriter<CodingKeys>) throws {
        try fields.write(id, for: .id)
        try fields.write(name, for: .name)
        try fields.write(email, for: .email)
        try fields.write(role, for: .role)
        try fields.write(status, for: .status)
        try fields.write(maxConcurrent, for: .maxConcurrent)
        try fields.write(createdAt, for: .createdAt)
        try fields.write(updatedAt, for: .updatedAt)
        try fields.write(deletedAt, for: .deletedAt)
        try fields.write(version, for: .version)
    }

    /// Whether the agent was deleted.
    public var isDeleted: Bool { deletedAt != nil }
}

/// The fields of a new agent, as a client sends them.
public struct NewAgent: Hashable, Sendable {
    public var name: String
    public var email: String?
    public var role: Agent.Role
    public var status: Agent.Status
    public var maxConcurrent: Int

    /// Creates the input; defaults follow the seed (a new agent starts offline).
    public init(name: String, email: String? = nil, role: Agent.Role = .agent, status: Agent.Status = .offline, maxConcurrent: Int = 5) {
        self.name = name
        self.email = email
        self.role = role
        self.status = status
        self.maxConcurrent = maxConcurrent
    }
}

/// A partial change to an agent: nil fields stay as they are.
public struct AgentChanges: Hashable, Sendable {
    public var name: String?
    public var email: String?
    public var role: Agent.Role?
    public var status: Agent.Status?
    public var maxConcurrent: Int?

    /// Creates a change set.
    public init(name: String? = nil, email: String? = nil, role: Agent.Role? = nil, status: Agent.Status? = nil, maxConcurrent: Int? = nil) {
        self.name = name
        self.email = email
        self.role = role
        self.status = status
        self.maxConcurrent = maxConcurrent
    }
}
