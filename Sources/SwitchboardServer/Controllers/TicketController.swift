import Hummingbird
import SwitchboardCore

/// `/api/v1/tickets`: support tickets, optionally tied to a conversation and a customer. A new ticket
/// is handed to the tenant's ticketing integration at once, after its 201 (see `TicketingService`).
///
/// A ticketing system may create tickets under its own `ticket_id` (sending one again changes it) and
/// sync their status with the seed's body `{ticket_id, status, handler, update_time}`, on the ticket's
/// route or in bulk on `/tickets/sync`; a sync older than the last one applied changes nothing.
///
/// Agents and visitors reach only the tickets of conversations they see: they name that conversation
/// to create or list tickets, and any other ticket is answered as not found.
struct TicketController {
    let store: any ChatStore
    let permissions: DataPermissions
    let responder: CommandResponder
    let ticketing: TicketingService

    func addRoutes(to routes: DocumentedRoutes) {
        routes.on(.post, "/tickets", scope: .ticketsWrite, body: Body.self, use: create)
        routes.on(.get, "/tickets", scope: .ticketsRead, use: list)
        routes.on(.get, "/tickets/{id}", scope: .ticketsRead, use: get)
        routes.on(.put, "/tickets/{id}", scope: .ticketsWrite, body: ChangesBody.self, use: update)
        routes.on(.post, "/tickets/sync", scope: .ticketsWrite, body: ChangesBody.self, use: sync)
    }

    struct Body: StrictBody {
        var ticketID: String?
        var title: String?
        var content: String?
        var priority: Ticket.Priority?
        var category: String?
        var handler: String?
        var conversationID: String?
        var customerID: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case title, content, priority, category, handler
            case ticketID = "ticket_id"
            case conversationID = "conversation_id"
            case customerID = "customer_id"
        }
        static let fields = Set(CodingKeys.allCases.map(\.stringValue))
    }

    /// A change, or the seed's status sync: `ticket_id` must then name the ticket changed, and
    /// `update_time` is when the external system made the change.
    struct ChangesBody: StrictBody {
        var ticketID: String?
        var status: Ticket.Status?
        var handler: String?
        var priority: Ticket.Priority?
        var updateTime: JSONValue?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case status, handler, priority
            case ticketID = "ticket_id"
            case updateTime = "update_time"
        }
        static let fields = Set(CodingKeys.allCases.map(\.stringValue))

        func changes(field prefix: String = "") throws -> TicketChanges {
            TicketChanges(
                status: status, handler: handler, priority: priority,
                updateTime: try updateTime.map { try ExternalTime($0, field: prefix + "update_time") }
            )
        }
    }

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await CollectedBody.collect(request, context: context)
        let input = try body.decode(Body.self)
        guard let title = input.title else { throw SwitchboardError.missingField("title") }
        guard let content = input.content else { throw SwitchboardError.missingField("content") }
        if input.ticketID != nil { try await requireWholeTenant(context) }
        try await checkConversation(input.conversationID, field: "conversation_id", context: context)
        let ticket = NewTicket(
            title: title, content: content, priority: input.priority, category: input.category, handler: input.handler,
            conversationID: input.conversationID, customerID: input.customerID, ticketID: input.ticketID
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
        if let bodyID = input.ticketID, bodyID != id {
            throw SwitchboardError.invalidField("ticket_id", "The field 'ticket_id' must match the path; a ticket's id cannot change.")
        }
        if input.updateTime != nil { try await requireWholeTenant(context) }
        return try await responder.respond(.updateTicket(id: id, try input.changes(), expectedVersion: expected), request: request, context: context)
    }

    /// The most status syncs one request to `/tickets/sync` takes.
    static let maxSyncs = 500

    /// Applies status syncs in order, each on its own: `{results: [{ticket_id, outcome, ticket, error}]}`
    /// with `applied` (the ticket now shows it, or already did), `stale` (a newer sync was applied),
    /// `not_found` or `invalid` (`error` says why). A failure of the database ends the request; the
    /// syncs applied before it stay, and sending the batch again applies nothing twice.
    @Sendable func sync(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await requireWholeTenant(context)
        let syncs = try await CollectedBody.collect(request, context: context).decodeOneOrMany(ChangesBody.self, limit: Self.maxSyncs)
        let tenant = context.requirePrincipal.tenantID
        var changes: [(id: String, TicketChanges)] = []
        for (index, sync) in syncs.enumerated() {
            let prefix = syncs.count == 1 ? "" : "\(index)."
            guard let id = sync.ticketID else { throw SwitchboardError.missingField(prefix + "ticket_id") }
            changes.append((try Ticket.validID(id, field: prefix + "ticket_id"), try sync.changes(field: prefix).validated()))
        }
        var results: [SyncResult] = []
        for (id, change) in changes {
            do {
                let outcome = try await store.execute(.updateTicket(id: id, change, expectedVersion: nil), tenant: tenant, idempotency: nil)
                guard case .applied(let result) = outcome, case .ticket(let ticket) = result.resource else {
                    throw SwitchboardError.notFound("ticket")
                }
                let syncedAt = try change.updateTime?.seconds(in: ticket.timeZone, field: "update_time")
                let applied = syncedAt.map { $0 >= (ticket.syncedAt ?? $0) } ?? true
                results.append(SyncResult(ticketID: id, outcome: applied ? .applied : .stale, ticket: ticket, error: nil))
            } catch let error as SwitchboardError where error.kind == .notFound {
                results.append(SyncResult(ticketID: id, outcome: .notFound, ticket: nil, error: nil))
            } catch let error as SwitchboardError where error.kind == .invalidInput {
                results.append(SyncResult(ticketID: id, outcome: .invalid, ticket: nil, error: error))
            }
        }
        return try .json(["results": results])
    }

    struct SyncResult: Encodable {
        /// Applied; older than the ticket's last sync (`update_time`), so not applied; no such ticket;
        /// refused (`error` says why).
        enum Outcome: String, CaseIterable {
            case applied, stale, invalid
            case notFound = "not_found"
        }

        let ticketID: String
        let outcome: Outcome
        let ticket: Ticket?
        let error: SwitchboardError?

        enum CodingKeys: String, CodingKey {
            case outcome, ticket, error
            case ticketID = "ticket_id"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(ticketID, forKey: .ticketID)
            try container.encode(outcome.rawValue, forKey: .outcome)
            try container.encode(ticket, forKey: .ticket)
            try container.encode(error.map { ["code": $0.code, "detail": $0.detail, "field": $0.field] }, forKey: .error)
        }
    }

    /// Choosing a ticket's id and syncing its status are for principals that see the whole tenant
    /// (admins, integrations): an agent could otherwise take an id an external system will use, or
    /// date a change ahead so that no sync applies after it.
    private func requireWholeTenant(_ context: AppRequestContext) async throws {
        guard try await permissions.visibility(of: context.requirePrincipal) == .all else {
            throw SwitchboardError(
                kind: .forbidden,
                code: "ticket_sync_not_allowed",
                detail: "Only admins and integrations choose a ticket's id or sync its status (ticket_id, update_time)."
            )
        }
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
