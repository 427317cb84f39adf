import Foundation
import SwitchboardCore

/// Column lists and row mappings of the chat tables; each `select` matches its `init(row:)`.
enum Rows {
    static let agentColumns = "id, name, email, role, status, max_concurrent, created_at, updated_at, deleted_at, version"
    static let visitorColumns = "id, external_id, name, created_at"
    static let conversationColumns =
        "id, visitor_id, agent_id, status, channel, subject, metadata, created_at, updated_at, ended_at, version"
    static let messageColumns =
        "id, conversation_id, sender, recipient, content, content_type, client_message_id, timestamp, created_at, edited_at, deleted_at, version"
    static let eventColumns = "position, tenant_id, seq, id, type, version, timestamp, data"

    static func agent(_ row: SQLRow) throws -> Agent {
        Agent(
            id: row.text(0),
            name: row.text(1),
            email: row.optionalText(2),
            role: try value(Agent.Role.self, row.text(3)),
            status: try value(Agent.Status.self, row.text(4)),
            maxConcurrent: row.int(5),
            createdAt: row.date(6),
            updatedAt: row.date(7),
            deletedAt: row.optionalDate(8),
            version: row.int64(9)
        )
    }

    static func visitor(_ row: SQLRow) -> Visitor {
        Visitor(id: row.text(0), externalID: row.optionalText(1), name: row.optionalText(2), createdAt: row.date(3))
    }

    static func conversation(_ row: SQLRow) throws -> Conversation {
        Conversation(
            id: row.text(0),
            visitorID: row.text(1),
            agentID: row.optionalText(2),
            status: try value(Conversation.Status.self, row.text(3)),
            channel: row.text(4),
            subject: row.optionalText(5),
            metadata: try object(row.text(6)),
            createdAt: row.date(7),
            updatedAt: row.date(8),
            endedAt: row.optionalDate(9),
            version: row.int64(10)
        )
    }

    static func message(_ row: SQLRow) -> Message {
        Message(
            id: row.text(0),
            conversationID: row.text(1),
            from: row.text(2),
            to: row.optionalText(3),
            content: row.text(4),
            contentType: row.text(5),
            clientMessageID: row.optionalText(6),
            timestamp: row.int64(7),
            createdAt: row.date(8),
            editedAt: row.optionalDate(9),
            deletedAt: row.optionalDate(10),
            version: row.int64(11)
        )
    }

    static let customerColumns = "id, name, phone, email, level, tags, source, external_id, visitor_ids, created_at, updated_at, version"
    /// The last column is the tenant's zone, in which the record's times are written out.
    static let orderColumns =
        "id, customer_id, amount, currency, status, create_time, source, created_at, updated_at, version, \(zoneColumn("orders"))"
    static let ticketColumns =
        "id, title, content, priority, category, status, handler, conversation_id, customer_id, external, created_at, update_time, version, synced_at, \(zoneColumn("tickets"))"

    private static func zoneColumn(_ table: String) -> String {
        "(SELECT time_zone FROM tenants WHERE tenants.id = \(table).tenant_id)"
    }

    /// A zone stored by `setTenantSettings`; UTC for a name the system's time zone data no longer has
    /// (an update dropped it), so that the tenant's records stay readable.
    static func zone(_ identifier: String) -> TimeZone {
        TenantSettings.zone(named: identifier) ?? TimeZone(identifier: identifier) ?? .utc
    }

    static func customer(_ row: SQLRow) throws -> Customer {
        Customer(
            customerID: row.text(0),
            name: row.optionalText(1),
            phone: row.optionalText(2),
            email: row.optionalText(3),
            level: row.optionalText(4),
            tags: try SwitchboardJSON.decode([String].self, from: row.text(5)),
            source: row.text(6),
            externalID: row.optionalText(7),
            visitorIDs: try SwitchboardJSON.decode([String].self, from: row.text(8)),
            createdAt: row.date(9),
            updatedAt: row.date(10),
            version: row.int64(11)
        )
    }

    static func order(_ row: SQLRow) -> Order {
        Order(
            orderID: row.text(0),
            customerID: row.text(1),
            amount: row.double(2),
            currency: row.optionalText(3),
            status: row.text(4),
            createTime: row.int64(5),
            source: row.text(6),
            createdAt: row.date(7),
            updatedAt: row.date(8),
            version: row.int64(9),
            timeZone: zone(row.text(10))
        )
    }

    static func ticket(_ row: SQLRow) throws -> Ticket {
        Ticket(
            ticketID: row.text(0),
            title: row.text(1),
            content: row.text(2),
            priority: try value(Ticket.Priority.self, row.text(3)),
            category: row.optionalText(4),
            status: try value(Ticket.Status.self, row.text(5)),
            handler: row.optionalText(6),
            conversationID: row.optionalText(7),
            customerID: row.optionalText(8),
            external: try row.optionalText(9).map { try SwitchboardJSON.decode(Ticket.ExternalReference.self, from: $0) },
            createdAt: row.date(10),
            updateTime: row.int64(11),
            version: row.int64(12),
            syncedAt: row.isNull(13) ? nil : row.int64(13),
            timeZone: zone(row.text(14))
        )
    }

    static func event(_ row: SQLRow) throws -> Event {
        Event(
            id: row.text(3),
            type: EventType(row.text(4)),
            version: row.int(5),
            tenantID: row.text(1),
            seq: row.int64(2),
            timestamp: row.int64(6),
            data: try JSONValue(parsing: row.text(7)),
            position: row.int64(0)
        )
    }

    /// A stored JSON object.
    private static func object(_ text: String) throws -> [String: JSONValue] {
        guard case .object(let members) = try JSONValue(parsing: text) else {
            throw SQLiteError(code: 11, message: "a stored JSON object is not an object")
        }
        return members
    }

    private static func value<Value: RawRepresentable>(_ type: Value.Type, _ raw: String) throws -> Value where Value.RawValue == String {
        guard let value = Value(rawValue: raw) else {
            throw SQLiteError(code: 11, message: "unexpected \(Value.self) value '\(raw)' in the database")
        }
        return value
    }
}

extension SQLConnection {
    /// Reads one page of `table` for `tenant`, in id order, with extra `conditions` ANDed in.
    func page<Item>(
        table: String,
        columns: String,
        tenant: String,
        conditions: [(sql: String, value: SQLValue?)],
        request: PageRequest,
        map: (SQLRow) throws -> Item,
        id: (Item) -> String
    ) throws -> Page<Item> {
        let filters = conditions.map { " AND \($0.sql)" }.joined()
        let sql = "SELECT \(columns) FROM \(table) WHERE tenant_id = ?\(filters) AND id > ? ORDER BY id LIMIT ?"
        let bindings = [.text(tenant)] + conditions.compactMap(\.value) + [.text(request.after ?? ""), .integer(Int64(request.limit + 1))]
        var items = try query(sql, bindings, map)
        guard items.count > request.limit else { return Page(items: items, nextAfter: nil) }
        items.removeLast()
        return Page(items: items, nextAfter: items.last.map(id))
    }
}
