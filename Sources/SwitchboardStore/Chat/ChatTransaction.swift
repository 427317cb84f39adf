import Foundation
import SwitchboardCore

/// One command's work inside a group commit: load, apply the core's rules, save, append events.
///
/// Runs on the writer thread only.
struct ChatTransaction {
    let db: any SQLConnection
    let tenant: String
    let now: Date
    let ids: TimeOrderedIDGenerator

    func apply(_ command: ChatCommand) throws -> ChatResult {
        switch command {
        case .createAgent(let input):
            let (agent, events) = Agent.make(input, id: ids.make(now: now), now: now)
            try save(agent)
            try append(events)
            return ChatResult(resource: .agent(agent), isCreated: true)
        case .updateAgent(let id, let changes, let expected):
            var agent = try load(agent: id, expected: expected)
            let events = try agent.apply(changes, now: now)
            return try saveChanged(.agent(agent), events: events) { try save(agent) }
        case .deleteAgent(let id, let expected):
            var agent = try load(agent: id, expected: expected)
            let events = agent.delete(now: now)
            return try saveChanged(.agent(agent), events: events) { try save(agent) }
        case .createVisitor(let input):
            let visitor = Visitor(id: ids.make(now: now), externalID: input.externalID, name: input.name, createdAt: now)
            do {
                try db.run(
                    "INSERT INTO visitors (tenant_id, id, external_id, name, created_at) VALUES (?, ?, ?, ?, ?)",
                    [.text(tenant), .text(visitor.id), SQLValue(visitor.externalID), SQLValue(visitor.name), SQLValue(now)]
                )
            } catch let error as any DatabaseFailure where error.isConstraintViolation {
                throw SwitchboardError.visitorExists
            }
            return ChatResult(resource: .visitor(visitor), isCreated: true)
        case .createConversation(let input):
            guard try exists(table: "visitors", id: input.visitorID) else {
                throw SwitchboardError.unknownReference(field: "visitor_id", resource: "visitor")
            }
            if let agentID = input.agentID { try requireAssignable(agentID) }
            let (conversation, events) = Conversation.make(input, id: ids.make(now: now), now: now)
            try save(conversation)
            try append(events)
            return ChatResult(resource: .conversation(conversation), isCreated: true)
        case .updateConversation(let id, let changes, let expected):
            var conversation = try load(conversation: id, expected: expected)
            if let agentID = changes.assignment.assignedAgentID, agentID != conversation.agentID { try requireAssignable(agentID) }
            let events = try conversation.apply(changes, now: now)
            return try saveChanged(.conversation(conversation), events: events) { try save(conversation) }
        case .endConversation(let id, let expected):
            var conversation = try load(conversation: id, expected: expected)
            let events = conversation.end(now: now)
            return try saveChanged(.conversation(conversation), events: events) { try save(conversation) }
        case .sendMessage(let input):
            return try send(input)
        case .editMessage(let id, let changes, let expected):
            var message = try load(message: id, expected: expected)
            let events = try message.apply(changes, now: now)
            return try saveChanged(.message(message), events: events) { try save(message) }
        case .deleteMessage(let id, let expected):
            var message = try load(message: id, expected: expected)
            let events = message.delete(now: now)
            return try saveChanged(.message(message), events: events) { try save(message) }
        case .upsertCustomer(let id, let changes, let mustExist, let expected):
            let existing = try row("customers", Rows.customerColumns, id: id, Rows.customer)
            if mustExist || expected != nil { _ = try load("customer", id: id, expected: expected, version: \.version) { existing } }
            for visitorID in (changes.visitorIDs ?? []) + (changes.linkedVisitorIDs ?? []) where try !exists(table: "visitors", id: visitorID) {
                throw SwitchboardError.unknownReference(field: "visitor_ids", resource: "visitor")
            }
            let (customer, events) = try Customer.upsert(existing, customerID: id, changes, now: now)
            if !events.isEmpty {
                try save(customer)
                try append(events)
            }
            return ChatResult(resource: .customer(customer), isCreated: existing == nil)
        case .deleteCustomer(let id, let expected):
            let customer = try load("customer", id: id, expected: expected, version: \.version) {
                try row("customers", Rows.customerColumns, id: id, Rows.customer)
            }
            for table in ["customers WHERE tenant_id = ? AND id = ?", "orders WHERE tenant_id = ? AND customer_id = ?",
                "customer_tags WHERE tenant_id = ? AND customer_id = ?", "customer_visitors WHERE tenant_id = ? AND customer_id = ?"]
            {
                try db.run("DELETE FROM \(table)", [.text(tenant), .text(id)])
            }
            try append([customer.deletionEvent])
            return ChatResult(resource: .removed, isCreated: false)
        case .upsertOrder(let input):
            guard try exists(table: "customers", id: input.customerID) else {
                throw SwitchboardError.unknownReference(field: "customer_id", resource: "customer")
            }
            let existing = try row("orders", Rows.orderColumns, id: input.orderID, Rows.order)
            let (order, events) = try Order.upsert(existing, input, zone: try timeZone(), now: now)
            if !events.isEmpty {
                try save(order)
                try append(events)
            }
            return ChatResult(resource: .order(order), isCreated: existing == nil)
        case .createTicket(let input):
            var conversation: Conversation?
            if let conversationID = input.conversationID {
                conversation = try row("conversations", Rows.conversationColumns, id: conversationID, Rows.conversation)
                guard conversation != nil else { throw SwitchboardError.unknownReference(field: "conversation_id", resource: "conversation") }
            }
            if let customerID = input.customerID, try !exists(table: "customers", id: customerID) {
                throw SwitchboardError.unknownReference(field: "customer_id", resource: "customer")
            }
            if let id = input.ticketID, var ticket = try row("tickets", Rows.ticketColumns, id: id, Rows.ticket) {
                // An external system sends its ticket again: the fields it names change, its place stays.
                for (field, given, held) in [("conversation_id", input.conversationID, ticket.conversationID), ("customer_id", input.customerID, ticket.customerID)]
                where given != nil && given != held {
                    throw SwitchboardError.invalidField(field, "The ticket '\(id)' exists with another \(field); it cannot change.")
                }
                let changes = TicketChanges(handler: input.handler, priority: input.priority, title: input.title, content: input.content, category: input.category)
                return try change(&ticket, changes)
            }
            let (ticket, events) = try Ticket.make(
                input, conversation: conversation, id: input.ticketID ?? ids.make(now: now), zone: try timeZone(), now: now
            )
            try save(ticket)
            try append(events)
            return ChatResult(resource: .ticket(ticket), isCreated: true)
        case .updateTicket(let id, let changes, let expected):
            var ticket = try load("ticket", id: id, expected: expected, version: \.version) {
                try row("tickets", Rows.ticketColumns, id: id, Rows.ticket)
            }
            return try change(&ticket, changes)
        }
    }

    /// Applies `changes` to `ticket` and saves it when anything changed: a sync that changed nothing
    /// visible is still saved as the last one applied, without an event.
    private func change(_ ticket: inout Ticket, _ changes: TicketChanges) throws -> ChatResult {
        let loaded = ticket
        let events = try ticket.apply(changes, now: now)
        if ticket != loaded { try save(ticket) }
        if !events.isEmpty { try append(events) }
        return ChatResult(resource: .ticket(ticket), isCreated: false)
    }

    /// The tenant's zone, in which wall-clock times are read and written.
    private func timeZone() throws -> TimeZone {
        guard let identifier = try db.queryFirst("SELECT time_zone FROM tenants WHERE id = ?", [.text(tenant)], { $0.text(0) }) else {
            throw SwitchboardError.notFound("tenant")
        }
        return Rows.zone(identifier)
    }

    private func send(_ input: NewMessage) throws -> ChatResult {
        guard let conversation = try keptConversation(input.conversationID) else {
            throw SwitchboardError.unknownReference(field: "conversation_id", resource: "conversation")
        }
        if let clientID = input.clientMessageID,
            let original = try db.queryFirst(
                "SELECT \(Rows.messageColumns) FROM messages WHERE tenant_id = ? AND conversation_id = ? AND client_message_id = ?",
                [.text(tenant), .text(conversation.id), .text(clientID)],
                Rows.message
            )
        {
            let seq = try db.queryFirst(
                "SELECT seq FROM events WHERE tenant_id = ? AND type = 'message.received' AND \(db.dialect.jsonText("data", "message_id")) = ?",
                [.text(tenant), .text(original.id)],
                { $0.int64(0) }
            )
            return ChatResult(resource: .message(original), isCreated: false, seq: seq)
        }
        let (message, events) = try Message.make(input, in: conversation, id: ids.make(now: now), now: now)
        try save(message)
        try append(events)
        return ChatResult(resource: .message(message), isCreated: true, seq: db.appendedEvents.last?.event.seq)
    }

    /// Saves and appends only when the rules produced events; an unchanged resource is returned as is.
    private func saveChanged(_ resource: ChatResult.Resource, events: [DomainEvent], save: () throws -> Void) throws -> ChatResult {
        if !events.isEmpty {
            try save()
            try append(events)
        }
        return ChatResult(resource: resource, isCreated: false)
    }

    /// Appends events to the tenant's log with the next gap-free sequence numbers.
    ///
    /// An event's `position` is known once its row is written, which a connection that defers writes
    /// does at its flush, before the commit.
    func append(_ events: [DomainEvent]) throws {
        guard !events.isEmpty else { return }
        let timestamp = Int64(now.timeIntervalSince1970)
        var seq = try db.appendedLastSeqs[tenant] ?? storedLastSeq()
        let scratch = db.scratch
        for event in events {
            seq += 1
            let id = ids.make(now: now)
            let data = try SwitchboardJSON.encodeString(event.data)
            let index = scratch.appendedEvents.count
            let appended = Event(id: id, type: event.type, tenantID: tenant, seq: seq, timestamp: timestamp, data: event.data, position: 0)
            scratch.appendedEvents.append(RecentEvents.Entry(event: appended, dataBytes: data.utf8.count))
            scratch.appendedLastSeqs[tenant] = seq
            try db.insert(
                "INSERT INTO events (tenant_id, seq, id, type, version, timestamp, data) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING position, id",
                [
                    .text(tenant), .integer(seq), .text(id), .text(event.type.name),
                    .integer(Int64(Event.envelopeVersion)), .integer(timestamp), .text(data),
                ]
            ) { row in
                // The row written must be this event's, in its place among those appended.
                guard row.text(1) == id, index < scratch.appendedEvents.count, scratch.appendedEvents[index].event.id == id else {
                    throw SQLStore.unavailableError
                }
                scratch.appendedEvents[index].event.position = row.int64(0)
            }
        }
    }

    /// The tenant's last seq as the transaction began.
    private func storedLastSeq() throws -> Int64 {
        guard let seq = try db.queryFirst("SELECT last_seq FROM tenants WHERE id = ?", [.text(tenant)], { $0.int64(0) }) else {
            throw SwitchboardError.notFound("tenant")
        }
        return seq
    }

    // MARK: Loading

    /// The tenant's row of `table` with this id, mapped; nil when there is none.
    private func row<Resource>(_ table: String, _ columns: String, id: String, _ map: (SQLRow) throws -> Resource) throws -> Resource? {
        try db.queryFirst("SELECT \(columns) FROM \(table) WHERE tenant_id = ? AND id = ?", [.text(tenant), .text(id)], map)
    }

    /// The conversation with this id, read once per transaction while the connection defers writes: a
    /// group of messages to one conversation reads it once (`WriteScratch.conversations`).
    private func keptConversation(_ id: String) throws -> Conversation? {
        let key = WriteScratch.ConversationKey(tenant: tenant, id: id)
        if db.defersWrites, let kept = db.scratch.conversations[key] { return kept }
        let read = try row("conversations", Rows.conversationColumns, id: id, Rows.conversation)
        if db.defersWrites { db.scratch.conversations[key] = read }
        return read
    }

    private func exists(table: String, id: String) throws -> Bool {
        try db.queryFirst("SELECT 1 FROM \(table) WHERE tenant_id = ? AND id = ?", [.text(tenant), .text(id)]) { _ in true } ?? false
    }

    private func requireAssignable(_ agentID: String) throws {
        let agent = try row("agents", Rows.agentColumns, id: agentID, Rows.agent)
        guard let agent, !agent.isDeleted else { throw SwitchboardError.unknownReference(field: "agent_id", resource: "agent") }
    }

    private func load(agent id: String, expected: Int64?) throws -> Agent {
        try load("agent", id: id, expected: expected, version: \.version) {
            try row("agents", Rows.agentColumns, id: id, Rows.agent)
        }
    }

    private func load(conversation id: String, expected: Int64?) throws -> Conversation {
        try load("conversation", id: id, expected: expected, version: \.version) {
            try row("conversations", Rows.conversationColumns, id: id, Rows.conversation)
        }
    }

    private func load(message id: String, expected: Int64?) throws -> Message {
        try load("message", id: id, expected: expected, version: \.version) {
            try row("messages", Rows.messageColumns, id: id, Rows.message)
        }
    }

    private func load<Resource>(
        _ name: String,
        id: String,
        expected: Int64?,
        version: KeyPath<Resource, Int64>,
        fetch: () throws -> Resource?
    ) throws -> Resource {
        guard let resource = try fetch() else { throw SwitchboardError.notFound(name) }
        if let expected, resource[keyPath: version] != expected {
            throw SwitchboardError.versionMismatch(current: resource[keyPath: version])
        }
        return resource
    }

    // MARK: Saving

    private func save(_ agent: Agent) throws {
        db.changedRecords.append(.agent(RecordKey(tenant: tenant, id: agent.id)))
        try db.run(
            """
            INSERT INTO agents (tenant_id, id, name, email, role, status, max_concurrent, created_at, updated_at, deleted_at, version)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (tenant_id, id) DO UPDATE SET name = excluded.name, email = excluded.email, role = excluded.role,
                status = excluded.status, max_concurrent = excluded.max_concurrent, updated_at = excluded.updated_at,
                deleted_at = excluded.deleted_at, version = excluded.version
            """,
            [
                .text(tenant), .text(agent.id), .text(agent.name), SQLValue(agent.email), .text(agent.role.rawValue),
                .text(agent.status.rawValue), .integer(Int64(agent.maxConcurrent)), SQLValue(agent.createdAt),
                SQLValue(agent.updatedAt), SQLValue(agent.deletedAt), .integer(agent.version),
            ]
        )
    }

    private func save(_ conversation: Conversation) throws {
        db.changedRecords.append(.conversation(RecordKey(tenant: tenant, id: conversation.id)))
        let metadata = try SwitchboardJSON.encodeString(conversation.metadata)
        try db.run(
            """
            INSERT INTO conversations (tenant_id, id, visitor_id, agent_id, status, channel, subject, metadata,
                created_at, updated_at, ended_at, version)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (tenant_id, id) DO UPDATE SET agent_id = excluded.agent_id, status = excluded.status,
                subject = excluded.subject, metadata = excluded.metadata, updated_at = excluded.updated_at,
                ended_at = excluded.ended_at, version = excluded.version
            """,
            [
                .text(tenant), .text(conversation.id), .text(conversation.visitorID), SQLValue(conversation.agentID),
                .text(conversation.status.rawValue), .text(conversation.channel), SQLValue(conversation.subject), .text(metadata),
                SQLValue(conversation.createdAt), SQLValue(conversation.updatedAt), SQLValue(conversation.endedAt),
                .integer(conversation.version),
            ]
        )
    }

    private func save(_ customer: Customer) throws {
        try db.run(
            """
            INSERT INTO customers (tenant_id, id, name, phone, phone_key, email, level, tags, source, external_id, visitor_ids,
                created_at, updated_at, version)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (tenant_id, id) DO UPDATE SET name = excluded.name, phone = excluded.phone, phone_key = excluded.phone_key,
                email = excluded.email, level = excluded.level, tags = excluded.tags, source = excluded.source,
                external_id = excluded.external_id, visitor_ids = excluded.visitor_ids, updated_at = excluded.updated_at,
                version = excluded.version
            """,
            [
                .text(tenant), .text(customer.customerID), SQLValue(customer.name), SQLValue(customer.phone),
                SQLValue(customer.phone.map(CustomerFilter.phoneKey)), SQLValue(customer.email), SQLValue(customer.level),
                .text(try SwitchboardJSON.encodeString(customer.tags)), .text(customer.source), SQLValue(customer.externalID),
                .text(try SwitchboardJSON.encodeString(customer.visitorIDs)), SQLValue(customer.createdAt),
                SQLValue(customer.updatedAt), .integer(customer.version),
            ]
        )
        // The tag and visitor indexes hold exactly the record's current lists.
        for (table, column, values) in [("customer_tags", "tag", customer.tags), ("customer_visitors", "visitor_id", customer.visitorIDs)] {
            try db.run("DELETE FROM \(table) WHERE tenant_id = ? AND customer_id = ?", [.text(tenant), .text(customer.customerID)])
            for value in values {
                try db.run("INSERT INTO \(table) (tenant_id, \(column), customer_id) VALUES (?, ?, ?)", [.text(tenant), .text(value), .text(customer.customerID)])
            }
        }
    }

    private func save(_ order: Order) throws {
        try db.run(
            """
            INSERT INTO orders (tenant_id, id, customer_id, amount, currency, status, create_time, source, created_at, updated_at, version)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (tenant_id, id) DO UPDATE SET customer_id = excluded.customer_id, amount = excluded.amount,
                currency = excluded.currency, status = excluded.status, create_time = excluded.create_time, source = excluded.source,
                updated_at = excluded.updated_at, version = excluded.version
            """,
            [
                .text(tenant), .text(order.orderID), .text(order.customerID), .real(order.amount), SQLValue(order.currency),
                .text(order.status), .integer(order.createTime), .text(order.source), SQLValue(order.createdAt),
                SQLValue(order.updatedAt), .integer(order.version),
            ]
        )
    }

    private func save(_ ticket: Ticket) throws {
        try db.run(
            """
            INSERT INTO tickets (tenant_id, id, title, content, priority, category, status, handler, conversation_id, customer_id,
                external, created_at, update_time, version, synced_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (tenant_id, id) DO UPDATE SET title = excluded.title, content = excluded.content,
                category = excluded.category, priority = excluded.priority, status = excluded.status,
                handler = excluded.handler, external = excluded.external, update_time = excluded.update_time, version = excluded.version,
                synced_at = excluded.synced_at
            """,
            [
                .text(tenant), .text(ticket.ticketID), .text(ticket.title), .text(ticket.content), .text(ticket.priority.rawValue),
                SQLValue(ticket.category), .text(ticket.status.rawValue), SQLValue(ticket.handler), SQLValue(ticket.conversationID),
                SQLValue(ticket.customerID), SQLValue(try ticket.external.map { try SwitchboardJSON.encodeString($0) }),
                SQLValue(ticket.createdAt), .integer(ticket.updateTime), .integer(ticket.version),
                ticket.syncedAt.map { .integer($0) } ?? .null,
            ]
        )
    }

    private func save(_ message: Message) throws {
        try db.insert(
            """
            INSERT INTO messages (tenant_id, id, conversation_id, sender, recipient, content, content_type, client_message_id,
                timestamp, created_at, edited_at, deleted_at, version)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (tenant_id, id) DO UPDATE SET content = excluded.content, edited_at = excluded.edited_at,
                deleted_at = excluded.deleted_at, version = excluded.version
            """,
            [
                .text(tenant), .text(message.id), .text(message.conversationID), .text(message.from), SQLValue(message.to),
                .text(message.content), .text(message.contentType), SQLValue(message.clientMessageID), .integer(message.timestamp),
                SQLValue(message.createdAt), SQLValue(message.editedAt), SQLValue(message.deletedAt), .integer(message.version),
            ],
            returned: nil
        )
    }
}
