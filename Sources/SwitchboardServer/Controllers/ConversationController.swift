import Hummingbird
import SwitchboardCore

/// `/api/v1/conversations`: open, read, change (status, assignment), end and list conversations, and list their messages.
struct ConversationController {
    let store: any ChatStore
    let responder: CommandResponder
    let permissions: DataPermissions
    let representations: RepresentationCache

    func addRoutes(to routes: DocumentedRoutes) {
        routes.on(.post, "/conversations", scope: .conversationsWrite, body: Body.self, use: create)
        routes.on(.get, "/conversations", scope: .conversationsRead, use: list)
        routes.on(.get, "/conversations/{id}", scope: .conversationsRead, use: get)
        routes.on(.put, "/conversations/{id}", scope: .conversationsWrite, body: ChangesBody.self, use: update)
        routes.on(.delete, "/conversations/{id}", scope: .conversationsWrite, use: end)
        routes.on(.get, "/conversations/{id}/messages", scope: .messagesRead, use: messages)
    }

    /// The body of POST (`visitor_id` required): what PUT may change, and what is set only at creation.
    struct Body: StrictBody {
        var visitorID: String?
        var channel: String?
        var changes: ChangesBody

        enum CodingKeys: String, CodingKey, CaseIterable {
            case channel
            case visitorID = "visitor_id"
        }
        static let fields = ChangesBody.fields.union(CodingKeys.allCases.map(\.stringValue))
        static let nullableFields = ChangesBody.nullableFields

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            visitorID = try container.decodeIfPresent(String.self, forKey: .visitorID)
            channel = try container.decodeIfPresent(String.self, forKey: .channel)
            changes = try ChangesBody(from: decoder)
        }
    }

    /// The body of PUT: what may change after the conversation was created (`agent_id: null` unassigns).
    struct ChangesBody: StrictBody {
        var agentID: ConversationChanges.Assignment
        var status: Conversation.Status?
        var subject: String?
        var metadata: [String: JSONValue]?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case status, subject, metadata
            case agentID = "agent_id"
        }
        static let fields = Set(CodingKeys.allCases.map(\.stringValue))
        static let nullableFields: Set<String> = ["agent_id"]

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            if !container.contains(.agentID) {
                agentID = .keep
            } else if try container.decodeNil(forKey: .agentID) {
                agentID = .unassign
            } else {
                agentID = .assign(try container.decode(String.self, forKey: .agentID))
            }
            status = try container.decodeIfPresent(Conversation.Status.self, forKey: .status)
            subject = try container.decodeIfPresent(String.self, forKey: .subject)
            metadata = try container.decodeIfPresent([String: JSONValue].self, forKey: .metadata)
        }
    }

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await CollectedBody.collect(request, context: context)
        let input = try body.decode(Body.self)
        guard let visitorID = input.visitorID else { throw SwitchboardError.missingField("visitor_id") }
        // A visitor opens conversations for itself only.
        if case .visitor(let own) = try await permissions.visibility(of: context.requirePrincipal), own != visitorID {
            throw SwitchboardError.unknownReference(field: "visitor_id", resource: "visitor")
        }
        let defaults = NewConversation(visitorID: visitorID)
        let conversation = NewConversation(
            visitorID: visitorID,
            agentID: input.changes.agentID.assignedAgentID,
            status: input.changes.status ?? defaults.status,
            channel: input.channel ?? defaults.channel,
            subject: input.changes.subject,
            metadata: input.changes.metadata ?? defaults.metadata
        )
        return try await responder.respond(.createConversation(conversation), request: request, context: context, body: body)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        let filter = await ConversationFilter(
            status: try request.enumParameter("status", as: Conversation.Status.self),
            agentID: try request.idParameter("agent_id"),
            visitorID: try request.idParameter("visitor_id"),
            visibility: try permissions.visibility(of: context.requirePrincipal)
        )
        let page = try await store.conversations(tenant: context.requirePrincipal.tenantID, filter: filter, page: try request.pageRequest())
        return try .json(ListBody(page))
    }

    @Sendable func get(_ request: Request, context: AppRequestContext) async throws -> Response {
        let conversation = try await load(context)
        return try representations.response(
            for: conversation,
            tenant: context.requirePrincipal.tenantID,
            id: conversation.id,
            version: conversation.version
        )
    }

    @Sendable func update(_ request: Request, context: AppRequestContext) async throws -> Response {
        let id = try await load(context).id
        let expected = try ETag.expectedVersion(request)
        let input = try await CollectedBody.collect(request, context: context).decode(ChangesBody.self)
        let changes = ConversationChanges(status: input.status, assignment: input.agentID, subject: input.subject, metadata: input.metadata)
        return try await responder.respond(.updateConversation(id: id, changes, expectedVersion: expected), request: request, context: context)
    }

    @Sendable func end(_ request: Request, context: AppRequestContext) async throws -> Response {
        let id = try await load(context).id
        let expected = try ETag.expectedVersion(request)
        return try await responder.respond(.endConversation(id: id, expectedVersion: expected), request: request, context: context)
    }

    @Sendable func messages(_ request: Request, context: AppRequestContext) async throws -> Response {
        let conversation = try await load(context)
        let page = try await store.messages(conversationID: conversation.id, tenant: context.requirePrincipal.tenantID, page: try request.pageRequest())
        return try .json(ListBody(page))
    }

    private func load(_ context: AppRequestContext) async throws -> Conversation {
        try await permissions.conversation(try context.parameters.require("id"), for: context.requirePrincipal)
    }
}

