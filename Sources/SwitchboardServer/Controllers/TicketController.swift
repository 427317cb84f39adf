import Hummingbird
import SwitchboardCore

/// `/api/v1/tickets`: support tickets, optionally tied to a conversation and a customer. A new ticket
/// is handed to the tenant's ticketing integration at once, after its 201 (see `TicketingService`).
///
/// Agents and visitors reach only the tickets of conversations they see: they name that conversation
/// to create or list tickets, and any other ticket is answered as not found.
struct TicketController {
    let store: any ChatStore
    let permissions: DataPermissions
    let responder: CommandResponder
    let ticketing: TicketingService

    func addRoutes(to routes: DocumentedRoutes) {
        routes.on(.post, "/tickets", scope: .ticketsWrite, use: create)
        routes.on(.get, "/tickets", scope: .ticketsRead, use: list)
        routes.on(.get, "/tickets/{id}", scope: .ticketsRead, use: get)
        routes.on(.put, "/tickets/{id}", scope: .ticketsWrite, use: update)
    }

    struct Body: StrictBody {
        var title: String?
        var content: String?
        var priority: Ticket.Priority?
        var category: String?
        var handler: String?
        var conversationID: String?
        var customerID: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case title, content, priority, category, handler
            case conversationID = "conversation_id"
            case customerID = "customer_id"
        }
        static let fields = Set(CodingKeys.allCases.map(\.stringValue))
    }

    struct ChangesBody: StrictBody {
        var status: Ticket.Status?
        var handler: String?
        var priority: Ticket.Priority?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case status, handler, priority
        }
        static let fields = Set(CodingKeys.allCases.map(\.stringValue))
    }

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await CollectedBody.collect(request, context: context)
        let input = try body.decode(Body.self)
        guard let title = input.title else { throw SwitchboardError.missingField("title") }
        guard let content = input.content else { throw SwitchboardError.missingField("content") }
        try await checkConversation(input.conversationID, field: "conversation_id", context: context)
        let ticket = NewTicket(
            title: title, content: content, priority: input.priority ?? .normal, category: input.category, handler: input.handler,
            conversationID: input.conversationID, customerID: input.customerID
        )
        let response = try await responder.respond(.createTicket(ticket), request: request, context: context, body: body)
        if response.status == .created {
            ticketing.nudge(tenant: context.requirePrincipal.tenantID)
        }
        return response
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        let filter = TicketFilter(
            status: try request.enumParameter("status", as: Ticket.Status.self),
            conversationID: try request.idParameter("conversation_id"),
            customerID: request.uri.queryParameters["customer_id"].map(String.init)
        )
        try await checkConversation(filter.conversationID, field: "conversation_id", context: context)
        return try await .json(ListBody(try store.tickets(tenant: context.requirePrincipal.tenantID, filter: filter, page: try request.pageRequest())))
    }

    @Sendable func get(_ request: Request, context: AppRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let ticket = try await visibleTicket(id, context: context)
        return try .json(ticket, version: ticket.version)
    }

    @Sendable func update(_ request: Request, context: AppRequestContext) async throws -> Response {
        let id = try await visibleTicket(try context.parameters.require("id"), context: context).ticketID
        let expected = try ETag.expectedVersion(request)
        let input = try await CollectedBody.collect(request, context: context).decode(ChangesBody.self)
        let changes = TicketChanges(status: input.status, handler: input.handler, priority: input.priority)
        return try await responder.respond(.updateTicket(id: id, changes, expectedVersion: expected), request: request, context: context)
    }

    /// The ticket with `id` when the principal sees it: any of its tenant's for admins and integrations,
    /// else one of a conversation it sees.
    private func visibleTicket(_ id: String, context: AppRequestContext) async throws -> Ticket {
        let principal = context.requirePrincipal
        guard let ticket = try await store.ticket(id: id, tenant: principal.tenantID) else { throw SwitchboardError.notFound("ticket") }
        let visibility = try await permissions.visibility(of: principal)
        if visibility != .all {
            guard let conversation = ticket.conversationID,
                try await permissions.conversation(conversation, tenant: principal.tenantID, visibleIn: visibility) != nil
            else { throw SwitchboardError.notFound("ticket") }
        }
        return ticket
    }

    /// For agents and visitors: `conversationID` must be given and be one they see.
    private func checkConversation(_ conversationID: String?, field: String, context: AppRequestContext) async throws {
        let principal = context.requirePrincipal
        let visibility = try await permissions.visibility(of: principal)
        guard visibility != .all else { return }
        guard let conversationID else {
            throw SwitchboardError(
                kind: .invalidInput,
                code: "missing_field",
                detail: "Agents and visitors reach tickets through a conversation they see: give '\(field)'.",
                field: field
            )
        }
        guard try await permissions.conversation(conversationID, tenant: principal.tenantID, visibleIn: visibility) != nil else {
            throw SwitchboardError.unknownReference(field: field, resource: "conversation")
        }
    }
}
