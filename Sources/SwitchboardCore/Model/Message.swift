import Foundation

/// One message of a conversation.
public struct Message: Codable, Hashable, Sendable, JSONRecord {
    public var id: String
    public var conversationID: String
    /// The sending participant: the conversation's visitor id or agent id.
    public var from: String
    /// The receiving participant, when the conversation has one.
    public var to: String?
    /// The text; empty once the message is deleted.
    public var content: String
    public var contentType: String
    /// The sender's own id for the message; a repeat within a conversation returns the original.
    public var clientMessageID: String?
    /// When the message was sent, in Unix seconds (the seed's field).
    public var timestamp: Int64
    public var createdAt: Date
    public var editedAt: Date?
    public var deletedAt: Date?
    /// Incremented on every change; the HTTP layer shows it as the ETag.
    public var version: Int64

    enum CodingKeys: String, CodingKey {
        case id, from, to, content, timestamp, version
        case conversationID = "conversation_id"
        case contentType = "content_type"
        case clientMessageID = "client_message_id"
        case createdAt = "created_at"
        case editedAt = "edited_at"
        case deletedAt = "deleted_at"
    }

    /// Creates a message record.
    public init(
        id: String,
        conversationID: String,
        from: String,
        to: String?,
        content: String,
        contentType: String,
        clientMessageID: String?,
        timestamp: Int64,
        createdAt: Date,
        editedAt: Date? = nil,
        deletedAt: Date? = nil,
        version: Int64 = 1
    ) {
        self.id = id
        self.conversationID = conversationID
        self.from = from
        self.to = to
        self.content = content
        self.contentType = contentType
        self.clientMessageID = clientMessageID
        self.timestamp = timestamp
        self.createdAt = createdAt
        self.editedAt = editedAt
        self.deletedAt = deletedAt
        self.version = version
    }

    public func encode(to encoder: any Encoder) throws {
        try encodeFields(to: encoder)
    }

    func writeFields(to fields: inout some JSONFieldWriter<CodingKeys>) throws {
        try fields.write(id, for: .id)
        try fields.write(conversationID, for: .conversationID)
        try fields.write(from, for: .from)
        try fields.write(to, for: .to)
        try fields.write(content, for: .content)
        try fields.write(contentType, for: .contentType)
        try fields.write(clientMessageID, for: .clientMessageID)
        try fields.write(timestamp, for: .timestamp)
        try fields.write(createdAt, for: .createdAt)
        try fields.write(editedAt, for: .editedAt)
        try fields.write(deletedAt, for: .deletedAt)
        try fields.write(version, for: .version)
    }
}

/// The fields of a new message.
public struct NewMessage: Hashable, Sendable {
    /// The content type of a message that names none.
    public static let defaultContentType = "text/plain"

    public var conversationID: String
    public var from: String
    public var to: String?
    public var content: String
    public var contentType: String
    public var clientMessageID: String?
    /// The client's send time in Unix seconds; the server's clock when absent.
    public var timestamp: Int64?

    /// Creates the input.
    public init(
        conversationID: String,
        from: String,
        to: String? = nil,
        content: String,
        contentType: String = NewMessage.defaultContentType,
        clientMessageID: String? = nil,
        timestamp: Int64? = nil
    ) {
        self.conversationID = conversationID
        self.from = from
        self.to = to
        self.content = content
        self.contentType = contentType
        self.clientMessageID = clientMessageID
        self.timestamp = timestamp
    }
}
