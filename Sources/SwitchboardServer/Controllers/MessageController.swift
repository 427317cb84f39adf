import Hummingbird
import SwitchboardCore

/// `/api/v1/messages`: send, read, edit and delete (tombstone) messages.
struct MessageController {
    let store: any ChatStore
    let responder: CommandResponder
    let permissions: DataPermissions

    func addRoutes(to routes: DocumentedRoutes) {
        routes.on(.post, "/messages", scope: .messagesWrite, body: CreateBody.self, use: create)
        routes.on(.get, "/messages/{id}", scope: .messagesRead, use: get)
        routes.on(.put, "/messages/{id}", scope: .messagesWrite, body: UpdateBody.self, use: update)
        routes.on(.delete, "/messages/{id}", scope: .messagesWrite, use: delete)
    }

    struct CreateBody: StrictBody {
        var conversationID: String
        var from: String
        var to: String?
        var content: String
        var contentType: String?
        var clientMessageID: String?
        var timestamp: Int64?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case from, to, content, timestamp
            case conversationID = "conversation_id"
            case contentType = "content_type"
            case clientMessageID = "client_message_id"
        }
        static let fields = Set(CodingKeys.allCases.map(\.stringValue))
    }

    struct UpdateBody: StrictBody {
        var content: String

        enum CodingKeys: String, CodingKey, CaseIterable {
            case content
        }
        static let fields = Set(CodingKeys.allCases.map(\.stringValue))
    }

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await CollectedBody.collect(request, context: context)
        let input = try body.decode(CreateBody.self)
        let principal = context.requirePrincipal
        try await permissions.authorizeSend(
            into: input.conversationID,
            from: input.from,
            tenant: principal.tenantID,
            visibleIn: permissions.visibility(of: principal)
        )
        let message = NewMessage(
            conversationID: input.conversationID,
            from: input.from,
            to: input.to,
            content: input.content,
            contentType: input.contentType ?? NewMessage.defaultContentType,
            clientMessageID: input.clientMessageID,
            timestamp: input.timestamp
        )
        return try await responder.respond(.sendMessage(message), request: request, context: context, body: body)
    }

    @Sendable func get(_ request: Request, context: AppRequestContext) async throws -> Response {
        let message = try await permissions.message(try context.parameters.require("id"), for: context.requirePrincipal)
        return try .json(message, version: message.version)
    }

    @Sendable func update(_ request: Request, context: AppRequestContext) async throws -> Response {
        let id = try await permissions.messageToChange(try context.parameters.require("id"), for: context.requirePrincipal).id
        let expected = try ETag.expectedVersion(request)
        let input = try await CollectedBody.collect(request, context: context).decode(UpdateBody.self)
        return try await responder.respond(
            .editMessage(id: id, MessageChanges(content: input.content), expectedVersion: expected),
            request: request,
            context: context
        )
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> Response {
        let id = try await permissions.messageToChange(try context.parameters.require("id"), for: context.requirePrincipal).id
        let expected = try ETag.expectedVersion(request)
        return try await responder.respond(.deleteMessage(id: id, expectedVersion: expected), request: request, context: context)
    }
}
