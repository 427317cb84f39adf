import SwitchboardCore

/// Resolves what data a principal may see: admins and integrations everything of their tenant; an
/// agent-role principal (`sub` = an agent id) its conversations, plus the unassigned queue when the
/// agent's role is supervisor or admin; a visitor-role principal (`sub` = a visitor's external id or
/// id) only its own conversations. Outside its view a resource is answered as not found.
struct DataPermissions: Sendable {
    let store: any ChatStore

    func visibility(of principal: Principal) async throws -> Visibility {
        switch principal.role {
        case .agent:
            guard let agent = try await store.agent(id: principal.subject, tenant: principal.tenantID), agent.deletedAt == nil else { return .none }
            return .agent(id: agent.id, seesQueue: agent.role.seesQueue)
        case .visitor:
            var visitor = try await store.visitor(externalID: principal.subject, tenant: principal.tenantID)
            if visitor == nil { visitor = try await store.visitor(id: principal.subject, tenant: principal.tenantID) }
            return visitor.map { .visitor(id: $0.id) } ?? .none
        default:
            return .all
        }
    }

    /// The conversation with `id` when the principal sees it.
    /// - Throws: `conversation_not_found` when it does not exist or is outside the principal's view.
    func conversation(_ id: String, for principal: Principal) async throws -> Conversation {
        guard let conversation = try await conversation(id, tenant: principal.tenantID, visibleIn: visibility(of: principal)) else {
            throw SwitchboardError.notFound("conversation")
        }
        return conversation
    }

    /// The conversation with `id` of `tenant` when `visibility`, resolved already, includes it; else nil.
    func conversation(_ id: String, tenant: String, visibleIn visibility: Visibility) async throws -> Conversation? {
        guard let conversation = try await store.conversation(id: id, tenant: tenant), visibility.contains(conversation) else { return nil }
        return conversation
    }

    /// The message with `id` when the principal sees its conversation.
    /// - Throws: `message_not_found` otherwise, or the store's error.
    func message(_ id: String, for principal: Principal) async throws -> Message {
        try await message(id, for: principal, visibleIn: visibility(of: principal))
    }

    /// The message with `id` when the principal may change it: it sees the conversation and, as an
    /// agent or visitor, wrote the message. Admins and integrations change any message they see.
    /// - Throws: `message_not_found` outside the principal's view, `not_message_author` for another's message.
    func messageToChange(_ id: String, for principal: Principal) async throws -> Message {
        let visibility = try await visibility(of: principal)
        let message = try await message(id, for: principal, visibleIn: visibility)
        guard visibility.maySend(as: message.from) else {
            throw SwitchboardError(kind: .forbidden, code: "not_message_author", detail: "Agents and visitors edit and delete only their own messages.")
        }
        return message
    }

    private func message(_ id: String, for principal: Principal, visibleIn visibility: Visibility) async throws -> Message {
        guard let message = try await store.message(id: id, tenant: principal.tenantID),
            try await conversation(message.conversationID, tenant: principal.tenantID, visibleIn: visibility) != nil
        else { throw SwitchboardError.notFound("message") }
        return message
    }

    /// Checks a new message of `from` into a conversation, for `POST /messages` and the socket's send
    /// alike: the principal must see the conversation and, as an agent or visitor, send as itself. One
    /// that sees every conversation needs no read here: the store refuses a missing one alike.
    /// - Throws: `conversation_not_found` on `conversation_id`, `sender_not_principal`, or the store's error.
    func authorizeSend(into conversationID: String, from: String, tenant: String, visibleIn visibility: Visibility) async throws {
        if visibility != .all {
            guard try await conversation(conversationID, tenant: tenant, visibleIn: visibility) != nil else {
                throw SwitchboardError.unknownReference(field: "conversation_id", resource: "conversation")
            }
        }
        guard visibility.maySend(as: from) else {
            throw SwitchboardError(
                kind: .forbidden,
                code: "sender_not_principal",
                detail: "Agents and visitors send messages only as themselves.",
                field: "from"
            )
        }
    }
}
