import Foundation

extension NewConversation {
    /// Returns the input with text trimmed, or throws the first invalid field.
    ///
    /// Whether the visitor and agent exist is the store's check; this checks shape only.
    public func validated() throws -> NewConversation {
        var input = self
        input.visitorID = try Validation.id(visitorID, field: "visitor_id")
        input.agentID = try agentID.map { try Validation.id($0, field: "agent_id") }
        guard status != .closed else {
            throw SwitchboardError.invalidField("status", "A new conversation must be 'open' or 'pending'.")
        }
        input.channel = try Validation.channel(channel)
        input.subject = try Validation.optionalText(subject, field: "subject", maxLength: Validation.maxSubjectLength)
        return input
    }
}

extension ConversationChanges {
    /// Returns the changes with text trimmed, or throws the first invalid field.
    public func validated() throws -> ConversationChanges {
        var changes = self
        if case .assign(let agentID) = assignment {
            _ = try Validation.id(agentID, field: "agent_id")
        }
        changes.subject = try Validation.optionalText(subject, field: "subject", maxLength: Validation.maxSubjectLength)
        return changes
    }
}

extension ConversationChanges.Assignment {
    /// The agent assigned, if this assigns one.
    public var assignedAgentID: String? {
        if case .assign(let agentID) = self { return agentID }
        return nil
    }
}

extension Conversation {
    /// A new conversation from validated input, with its `conversation.created` event.
    public static func make(_ input: NewConversation, id: String, now: Date) -> (Conversation, [DomainEvent]) {
        let conversation = Conversation(
            id: id,
            visitorID: input.visitorID,
            agentID: input.agentID,
            status: input.status,
            channel: input.channel,
            subject: input.subject,
            metadata: input.metadata,
            createdAt: now,
            updatedAt: now
        )
        return (conversation, [DomainEvent(type: .conversationCreated, data: conversation.eventData)])
    }

    /// Applies validated changes: `conversation.updated`, and `conversation.ended` when the status becomes closed.
    ///
    /// A change that alters nothing returns no events and leaves the version as it was.
    /// - Throws: `conversation_closed` (conflict) when the conversation is already closed.
    public mutating func apply(_ changes: ConversationChanges, now: Date) throws -> [DomainEvent] {
        guard status != .closed else { throw SwitchboardError.conversationClosed }
        let before = self
        status = changes.status ?? status
        switch changes.assignment {
        case .keep: break
        case .unassign: agentID = nil
        case .assign(let agent): agentID = agent
        }
        subject = changes.subject ?? subject
        metadata = changes.metadata ?? metadata
        guard self != before else { return [] }
        updatedAt = now
        version += 1
        var events = [DomainEvent(type: .conversationUpdated, data: eventData)]
        if status == .closed {
            endedAt = now
            events.append(DomainEvent(type: .conversationEnded, data: eventData))
        }
        return events
    }

    /// Ends the conversation (status closed, `ended_at` set); ending a closed one changes nothing.
    public mutating func end(now: Date) -> [DomainEvent] {
        guard status != .closed else { return [] }
        status = .closed
        endedAt = now
        updatedAt = now
        version += 1
        return [DomainEvent(type: .conversationEnded, data: eventData)]
    }

    var eventData: JSONValue {
        var data: [String: JSONValue] = [
            "conversation_id": .string(id),
            "visitor_id": .string(visitorID),
            "agent_id": JSONValue(agentID),
            "status": .string(status.rawValue),
            "channel": .string(channel),
            "subject": JSONValue(subject),
            "category": JSONValue(category),
            "created_at": JSONValue(Int64(createdAt.timeIntervalSince1970)),
        ]
        if let endedAt {
            data["ended_at"] = JSONValue(Int64(endedAt.timeIntervalSince1970))
        }
        return .object(data)
    }
}

extension SwitchboardError {
    /// The conversation is closed and takes no more changes or messages.
    public static let conversationClosed = SwitchboardError(
        kind: .conflict,
        code: "conversation_closed",
        detail: "The conversation is closed."
    )
}
