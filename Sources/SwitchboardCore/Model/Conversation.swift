import Foundation

/// A conversation between one visitor and, once assigned, one agent.
public struct Conversation: Codable, Hashable, Sendable, JSONRecord {
    /// Lifecycle: `open` and `pending` move freely between each other; `closed` is final.
    public enum Status: String, Codable, Hashable, Sendable, CaseIterable {
        case open, pending, closed
    }

    public var id: String
    public var visitorID: String
    public var agentID: String?
    public var status: Status
    public var channel: String
    public var subject: String?
    public var metadata: [String: JSONValue]
    public var createdAt: Date
    public var updatedAt: Date
    public var endedAt: Date?
    /// Incremented on every change; the HTTP layer shows it as the ETag.
    public var version: Int64

    enum CodingKeys: String, CodingKey {
        case id, status, channel, subject, metadata, version
        case visitorID = "visitor_id"
        case agentID = "agent_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case endedAt = "ended_at"
    }

    /// Creates a conversation record.
    public init(
        id: String,
        visitorID: String,
        agentID: String?,
        status: Status,
        channel: String,
        subject: String?,
        metadata: [String: JSONValue],
        createdAt: Date,
        updatedAt: Date,
        endedAt: Date? = nil,
        version: Int64 = 1
    ) {
        self.id = id
        self.visitorID = visitorID
        self.agentID = agentID
        self.status = status
        self.channel = channel
        self.subject = subject
        self.metadata = metadata
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.endedAt = endedAt
        self.version = version
    }

    public func encode(to encoder: any Encoder) throws {
        try encodeFields(to: encoder)
    }

    func writeFields(to fields: inout some JSONFieldWriter<CodingKeys>) throws {
        try fields.write(id, for: .id)
        try fields.write(visitorID, for: .visitorID)
        try fields.write(agentID, for: .agentID)
        try fields.write(status, for: .status)
        try fields.write(channel, for: .channel)
        try fields.write(subject, for: .subject)
        try fields.write(metadata, for: .metadata)
        try fields.write(createdAt, for: .createdAt)
        try fields.write(updatedAt, for: .updatedAt)
        try fields.write(endedAt, for: .endedAt)
        try fields.write(version, for: .version)
    }

    /// The statistics category: `metadata.category` when it is a string.
    public var category: String? {
        if case .string(let category) = metadata["category"] { category } else { nil }
    }

    /// Whether `participant` is this conversation's visitor or assigned agent.
    public func isParticipant(_ participant: String) -> Bool {
        participant == visitorID || participant == agentID
    }
}

/// The fields of a new conversation.
public struct NewConversation: Hashable, Sendable {
    public var visitorID: String
    public var agentID: String?
    public var status: Conversation.Status
    public var channel: String
    public var subject: String?
    public var metadata: [String: JSONValue]

    /// Creates the input.
    public init(
        visitorID: String,
        agentID: String? = nil,
        status: Conversation.Status = .open,
        channel: String = "web",
        subject: String? = nil,
        metadata: [String: JSONValue] = [:]
    ) {
        self.visitorID = visitorID
        self.agentID = agentID
        self.status = status
        self.channel = channel
        self.subject = subject
        self.metadata = metadata
    }
}

/// A partial change to a conversation: status, assignment, subject, metadata.
public struct ConversationChanges: Hashable, Sendable {
    /// How the assignment changes.
    public enum Assignment: Hashable, Sendable {
        case keep
        case unassign
        case assign(String)
    }

    public var status: Conversation.Status?
    public var assignment: Assignment
    public var subject: String?
    public var metadata: [String: JSONValue]?

    /// Creates a change set.
    public init(
        status: Conversation.Status? = nil,
        assignment: Assignment = .keep,
        subject: String? = nil,
        metadata: [String: JSONValue]? = nil
    ) {
        self.status = status
        self.assignment = assignment
        self.subject = subject
        self.metadata = metadata
    }
}
