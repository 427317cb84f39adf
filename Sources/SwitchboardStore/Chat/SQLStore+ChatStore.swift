import Foundation
import SwitchboardCore

extension SQLStore: ChatStore {
    public func agent(id: String, tenant: String) async throws -> Agent? {
        try await cachedRecord(RecordKey(tenant: tenant, id: id), in: agentCache) { db in
            try db.queryFirst(Self.agentByID, [.text(tenant), .text(id)], Rows.agent)
        }
    }

    private static let agentByID = "SELECT \(Rows.agentColumns) FROM agents WHERE tenant_id = ? AND id = ?"
    private static let conversationByID = "SELECT \(Rows.conversationColumns) FROM conversations WHERE tenant_id = ? AND id = ?"

    public func agents(tenant: String, status: Agent.Status?, page: PageRequest) async throws -> Page<Agent> {
        var conditions: [(sql: String, value: SQLValue?)] = [("deleted_at IS NULL", nil)]
        if let status { conditions.append(("status = ?", .text(status.rawValue))) }
        return try await read { [conditions] db in
            try db.page(table: "agents", columns: Rows.agentColumns, tenant: tenant, conditions: conditions, request: page, map: Rows.agent, id: \.id)
        }
    }

    public func visitor(id: String, tenant: String) async throws -> Visitor? {
        try await read { db in
            try db.queryFirst("SELECT \(Rows.visitorColumns) FROM visitors WHERE tenant_id = ? AND id = ?", [.text(tenant), .text(id)], Rows.visitor)
        }
    }

    public func conversation(id: String, tenant: String) async throws -> Conversation? {
        try await cachedRecord(RecordKey(tenant: tenant, id: id), in: conversationCache) { db in
            try db.queryFirst(Self.conversationByID, [.text(tenant), .text(id)], Rows.conversation)
        }
    }

    public func conversations(tenant: String, filter: ConversationFilter, page: PageRequest) async throws -> Page<Conversation> {
        var conditions: [(sql: String, value: SQLValue?)] = []
        if let status = filter.status { conditions.append(("status = ?", .text(status.rawValue))) }
        if let agentID = filter.agentID { conditions.append(("agent_id = ?", .text(agentID))) }
        if let visitorID = filter.visitorID { conditions.append(("visitor_id = ?", .text(visitorID))) }
        switch filter.visibility {
        case .all: break
        case .agent(let id, let seesQueue): conditions.append((seesQueue ? "(agent_id = ? OR agent_id IS NULL)" : "agent_id = ?", .text(id)))
        case .visitor(let id): conditions.append(("visitor_id = ?", .text(id)))
        case .none: return Page(items: [], nextAfter: nil)
        }
        return try await read { [conditions] db in
            try db.page(
                table: "conversations",
                columns: Rows.conversationColumns,
                tenant: tenant,
                conditions: conditions,
                request: page,
                map: Rows.conversation,
                id: \.id
            )
        }
    }

    public func visitor(externalID: String, tenant: String) async throws -> Visitor? {
        try await read { db in
            try db.queryFirst(
                "SELECT \(Rows.visitorColumns) FROM visitors WHERE tenant_id = ? AND external_id = ? ORDER BY id LIMIT 1",
                [.text(tenant), .text(externalID)],
                Rows.visitor
            )
        }
    }

    public func message(id: String, tenant: String) async throws -> Message? {
        try await read { db in
            try db.queryFirst("SELECT \(Rows.messageColumns) FROM messages WHERE tenant_id = ? AND id = ?", [.text(tenant), .text(id)], Rows.message)
        }
    }

    public func messages(conversationID: String, tenant: String, page: PageRequest) async throws -> Page<Message> {
        try await read { db in
            try db.page(
                table: "messages",
                columns: Rows.messageColumns,
                tenant: tenant,
                conditions: [("conversation_id = ?", .text(conversationID))],
                request: page,
                map: Rows.message,
                id: \.id
            )
        }
    }

    public func customer(id: String, tenant: String) async throws -> Customer? {
        try await read { db in
            try db.queryFirst("SELECT \(Rows.customerColumns) FROM customers WHERE tenant_id = ? AND id = ?", [.text(tenant), .text(id)], Rows.customer)
        }
    }

    public func customers(tenant: String, filter: CustomerFilter, page: PageRequest) async throws -> Page<Customer> {
        var conditions: [(sql: String, value: SQLValue?)] = []
        if let phone = filter.phone { conditions.append(("phone_key = ?", .text(CustomerFilter.phoneKey(phone)))) }
        if let level = filter.level { conditions.append(("level = ?", .text(level))) }
        if let tag = filter.tag {
            conditions.append(("id IN (SELECT customer_id FROM customer_tags WHERE tenant_id = customers.tenant_id AND tag = ?)", .text(tag)))
        }
        if let visitorID = filter.visitorID {
            conditions.append(
                ("id IN (SELECT customer_id FROM customer_visitors WHERE tenant_id = customers.tenant_id AND visitor_id = ?)", .text(visitorID))
            )
        }
        return try await read { [conditions] db in
            try db.page(table: "customers", columns: Rows.customerColumns, tenant: tenant, conditions: conditions, request: page, map: Rows.customer, id: \.customerID)
        }
    }

    public func order(id: String, tenant: String) async throws -> Order? {
        try await read { db in
            try db.queryFirst("SELECT \(Rows.orderColumns) FROM orders WHERE tenant_id = ? AND id = ?", [.text(tenant), .text(id)], Rows.order)
        }
    }

    public func orders(customerID: String, tenant: String, page: PageRequest) async throws -> Page<Order> {
        try await read { db in
            try db.page(
                table: "orders",
                columns: Rows.orderColumns,
                tenant: tenant,
                conditions: [("customer_id = ?", .text(customerID))],
                request: page,
                map: Rows.order,
                id: \.orderID
            )
        }
    }

    public func recentOrders(customerID: String, tenant: String, limit: Int) async throws -> [Order] {
        try await read { db in
            try db.query(
                "SELECT \(Rows.orderColumns) FROM orders WHERE tenant_id = ? AND customer_id = ? ORDER BY create_time DESC, id DESC LIMIT ?",
                [.text(tenant), .text(customerID), .integer(Int64(limit))],
                Rows.order
            )
        }
    }

    public func ticket(id: String, tenant: String) async throws -> Ticket? {
        try await read { db in
            try db.queryFirst("SELECT \(Rows.ticketColumns) FROM tickets WHERE tenant_id = ? AND id = ?", [.text(tenant), .text(id)], Rows.ticket)
        }
    }

    public func tickets(tenant: String, filter: TicketFilter, page: PageRequest) async throws -> Page<Ticket> {
        var conditions: [(sql: String, value: SQLValue?)] = []
        if let status = filter.status { conditions.append(("status = ?", .text(status.rawValue))) }
        if let conversationID = filter.conversationID { conditions.append(("conversation_id = ?", .text(conversationID))) }
        if let customerID = filter.customerID { conditions.append(("customer_id = ?", .text(customerID))) }
        switch filter.external {
        case .missing: conditions.append(("external IS NULL", nil))
        case .heldBy(let system): conditions.append(("\(engine.dialect.jsonText("external", "system")) = ?", .text(system)))
        case .reference(let system, let id):
            conditions.append(("\(engine.dialect.jsonText("external", "system")) = ?", .text(system)))
            conditions.append(("\(engine.dialect.jsonText("external", "id")) = ?", .text(id)))
        case nil: break
        }
        if filter.excludesClosed { conditions.append(("status <> ?", .text(Ticket.Status.closed.rawValue))) }
        return try await read { [conditions] db in
            try db.page(table: "tickets", columns: Rows.ticketColumns, tenant: tenant, conditions: conditions, request: page, map: Rows.ticket, id: \.ticketID)
        }
    }

    public func execute(_ command: ChatCommand, tenant: String, idempotency: IdempotencyKey?) async throws -> CommandOutcome {
        let command = try command.validated()
        let ids = self.ids
        return try await write { db in
            let now = Self.now()
            if let idempotency, let recorded = try Self.recordedResponse(db, tenant: tenant, idempotency: idempotency) {
                return .replayed(recorded)
            }
            let result = try ChatTransaction(db: db, tenant: tenant, now: now, ids: ids).apply(command)
            if let idempotency {
                try db.insert(
                    "INSERT INTO idempotency_keys (tenant_id, key, fingerprint, status, body, version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        .text(tenant), .text(idempotency.key), .text(idempotency.fingerprint), .integer(result.isCreated ? 201 : 200),
                        .blob(try result.encodedBody()), SQLValue(result.version), SQLValue(now),
                    ],
                    returned: nil
                )
            }
            return .applied(result)
        }
    }

    private static func recordedResponse(_ db: any SQLConnection, tenant: String, idempotency: IdempotencyKey) throws -> RecordedResponse? {
        let row = try db.queryFirst(
            "SELECT fingerprint, status, body, version FROM idempotency_keys WHERE tenant_id = ? AND key = ?",
            [.text(tenant), .text(idempotency.key)]
        ) { row in
            (fingerprint: row.text(0), response: RecordedResponse(status: row.int(1), body: row.blob(2), version: row.isNull(3) ? nil : row.int64(3)))
        }
        guard let row else { return nil }
        guard row.fingerprint == idempotency.fingerprint else { throw SwitchboardError.idempotencyKeyReused }
        return row.response
    }
}
