import Foundation

/// A change to a message's content.
public struct MessageChanges: Hashable, Sendable {
    public var content: String

    /// Creates a change.
    public init(content: String) { self.content = content }

    /// Returns the change, or throws when the content is empty or too long.
    public func validated() throws -> MessageChanges {
        MessageChanges(content: try Message.validContent(content))
    }
}

extension NewMessage {
    /// Returns the input, or throws the first invalid field.
    ///
    /// Whether the conversation exists and `from` takes part in it is checked by `Message.make`.
    public func validated() throws -> NewMessage {
        var input = self
        input.conversationID = try Validation.id(conversationID, field: "conversation_id")
        input.from = try Validation.requiredText(from, field: "from", maxLength: Validation.maxExternalIDLength)
        input.to = try Validation.optionalText(to, field: "to", maxLength: Validation.maxExternalIDLength)
        input.content = try Message.validContent(content)
        input.contentType = try Validation.requiredText(contentType, field: "content_type", maxLength: 100)
        input.clientMessageID = try Validation.optionalText(clientMessageID, field: "client_message_id", maxLength: Validation.maxExternalIDLength)
        if let timestamp, !Validation.unixSeconds.contains(timestamp) {
            throw SwitchboardError.invalidField("timestamp", "The field 'timestamp' must be Unix seconds before 2100.")
        }
        return input
    }
}

extension Message {
    static func validContent(_ content: String) throws -> String {
        guard !content.isEmpty else { throw SwitchboardError.invalidField("content", "The field 'content' must not be empty.") }
        guard content.utf8.count <= Validation.maxContentBytes else {
            throw SwitchboardError.invalidField("content", "The field 'content' is longer than \(Validation.maxContentBytes) bytes.")
        }
        return content
    }

    /// A new message in `conversation`, with its `message.received` event.
    ///
    /// `to` defaults to the other participant.
    /// - Throws: `conversation_closed` (conflict); `invalid_field` for a `from` or `to` that is not a participant.
    public static func make(_ input: NewMessage, in conversation: Conversation, id: String, now: Date) throws -> (Message, [DomainEvent]) {
        guard conversation.status != .closed else { throw SwitchboardError.conversationClosed }
        guard conversation.isParticipant(input.from) else {
            throw SwitchboardError.invalidField("from", "The sender must be the conversation's visitor or assigned agent.")
        }
        let other = input.from == conversation.visitorID ? conversation.agentID : conversation.visitorID
        if let to = input.to, to == input.from || !conversation.isParticipant(to) {
            throw SwitchboardError.invalidField("to", "The receiver must be the conversation's other participant.")
        }
        let message = Message(
            id: id,
            conversationID: conversation.id,
            from: input.from,
            to: input.to ?? other,
            content: input.content,
            contentType: input.contentType,
            clientMessageID: input.clientMessageID,
            timestamp: input.timestamp ?? Int64(now.timeIntervalSince1970),
            createdAt: now
        )
        let data: JSONValue = .object([
            "message_id": .string(message.id),
            "conversation_id": .string(message.conversationID),
            "content": .string(message.content),
            "content_type": .string(message.contentType),
            "from": .string(message.from),
            "to": JSONValue(message.to),
            "client_message_id": JSONValue(message.clientMessageID),
            "timestamp": JSONValue(message.timestamp),
        ])
        return (message, [DomainEvent(type: .messageReceived, data: data)])
    }

    /// Replaces the content; an identical content changes nothing.
    /// - Throws: `message_deleted` (conflict) for a deleted message.
    public mutating func apply(_ changes: MessageChanges, now: Date) throws -> [DomainEvent] {
        guard deletedAt == nil else { throw SwitchboardError.messageDeleted }
        guard changes.content != content else { return [] }
        content = changes.content
        editedAt = now
        version += 1
        return [
            DomainEvent(
                type: .messageUpdated,
                data: .object([
                    "message_id": .string(id),
                    "conversation_id": .string(conversationID),
                    "content": .string(content),
                    "edited_at": JSONValue(Int64(now.timeIntervalSince1970)),
                ])
            )
        ]
    }

    /// Leaves a tombstone: content emptied, `deleted_at` set; deleting twice changes nothing.
    public mutating func delete(now: Date) -> [DomainEvent] {
        guard deletedAt == nil else { return [] }
        content = ""
        deletedAt = now
        version += 1
        return [
            DomainEvent(
                type: .messageDeleted,
                data: .object(["message_id": .string(id), "conversation_id": .string(conversationID)])
            )
        ]
    }
}

extension SwitchboardError {
    /// The message was deleted and cannot be edited.
    public static let messageDeleted = SwitchboardError(kind: .conflict, code: "message_deleted", detail: "The message was deleted.")
}
