import Foundation

extension NewTicket {
    /// Returns the input with text trimmed, or throws the first invalid field.
    public func validated() throws -> NewTicket {
        var input = self
        input.ticketID = try ticketID.map { try Ticket.validID($0, field: "ticket_id") }
        input.title = try Validation.requiredText(title, field: "title", maxLength: Validation.maxSubjectLength)
        input.content = try Validation.requiredText(content, field: "content", maxLength: Validation.maxContentBytes)
        guard input.content.utf8.count <= Validation.maxContentBytes else {
            throw SwitchboardError.invalidField("content", "The field 'content' is larger than \(Validation.maxContentBytes) bytes.")
        }
        input.category = try Validation.optionalText(category, field: "category", maxLength: 64)
        input.handler = try Validation.optionalText(handler, field: "handler", maxLength: Validation.maxNameLength)
        input.conversationID = try conversationID.map { try Validation.id($0, field: "conversation_id") }
        input.customerID = try customerID.map { try Validation.key($0, field: "customer_id") }
        return input
    }
}

extension Ticket {
    /// How far ahead of the server's clock a synced `update_time` may be: clocks that differ by minutes.
    public static let maxSyncLead: Int64 = 300

    /// `id` when it can name a ticket (a server-made id or an external system's key, but not `sync`,
    /// which is the route `/tickets/sync`), or throws `invalid_field` naming `field`.
    public static func validID(_ id: String, field: String) throws -> String {
        guard id != "sync" else { throw SwitchboardError.invalidField(field, "The id 'sync' names the route /tickets/sync; choose another.") }
        return try Validation.key(id, field: field)
    }
}

extension TicketChanges {
    /// Returns the changes with text trimmed, or throws the first invalid field.
    public func validated() throws -> TicketChanges {
        var changes = self
        changes.handler = try Validation.optionalText(handler, field: "handler", maxLength: Validation.maxNameLength)
        changes.title = try Validation.optionalText(title, field: "title", maxLength: Validation.maxSubjectLength)
        changes.content = try Validation.optionalText(content, field: "content", maxLength: Validation.maxContentBytes)
        if let content = changes.content, content.utf8.count > Validation.maxContentBytes {
            throw SwitchboardError.invalidField("content", "The field 'content' is larger than \(Validation.maxContentBytes) bytes.")
        }
        changes.category = try Validation.optionalText(category, field: "category", maxLength: 64)
        if let external {
            changes.external = Ticket.ExternalReference(
                system: try Validation.key(external.system, field: "external.system"),
                id: try Validation.requiredText(external.id, field: "external.id", maxLength: Validation.maxExternalIDLength),
                url: try Validation.optionalText(external.url, field: "external.url", maxLength: 2048),
                status: try Validation.optionalText(external.status, field: "external.status", maxLength: 64)
            )
        }
        return changes
    }
}

extension Ticket {
    /// A new ticket from validated input, with its `ticket.created` event; `zone` is the tenant's.
    /// - Throws: `conversation_closed` when `conversation` has ended: a ticket is opened while the
    ///   conversation is still being worked on.
    public static func make(_ input: NewTicket, conversation: Conversation?, id: String, zone: TimeZone, now: Date) throws -> (Ticket, [DomainEvent]) {
        if let conversation, conversation.status == .closed { throw SwitchboardError.conversationClosed }
        let ticket = Ticket(
            ticketID: id,
            title: input.title,
            content: input.content,
            priority: input.priority ?? .normal,
            category: input.category,
            status: .new,
            handler: input.handler,
            conversationID: input.conversationID,
            customerID: input.customerID,
            // The system that chose the id holds the ticket: a ticketing integration does not create it again.
            external: input.ticketID.map { Ticket.ExternalReference(system: Ticket.apiSystem, id: $0) },
            createdAt: now,
            updateTime: Int64(now.timeIntervalSince1970),
            timeZone: zone
        )
        let data: JSONValue = [
            "ticket_id": .string(ticket.ticketID), "title": .string(ticket.title), "priority": .string(ticket.priority.rawValue),
            "category": JSONValue(ticket.category), "status": .string(ticket.status.rawValue), "handler": JSONValue(ticket.handler),
            "conversation_id": JSONValue(ticket.conversationID), "customer_id": JSONValue(ticket.customerID),
        ]
        return (ticket, [DomainEvent(type: .ticketCreated, data: data)])
    }

    /// Applies validated changes: `ticket.status_changed` when the status moved, `ticket.updated` for
    /// any other change; nothing when nothing changed, or when an external system's change is older
    /// than the last one applied (a change made here does not hold a sync back: the external system
    /// owns the status it syncs). A sync that changes nothing still becomes the last one applied, so a
    /// late older one cannot undo it.
    /// - Throws: `invalid_field` for an `update_time` more than `maxSyncLead` ahead of `now`, which
    ///   would make every later sync stale.
    public mutating func apply(_ changes: TicketChanges, now: Date) throws -> [DomainEvent] {
        let syncedAt = try changes.updateTime?.seconds(in: timeZone, field: "update_time")
        if let syncedAt {
            guard syncedAt <= Int64(now.timeIntervalSince1970) + Self.maxSyncLead else {
                throw SwitchboardError.invalidField("update_time", "The field 'update_time' is more than \(Self.maxSyncLead) s in the future.")
            }
            if let last = self.syncedAt, syncedAt < last { return [] }
            self.syncedAt = syncedAt
        }
        let before = self
        status = changes.status ?? status
        handler = changes.handler ?? handler
        priority = changes.priority ?? priority
        title = changes.title ?? title
        content = changes.content ?? content
        category = changes.category ?? category
        external = changes.external ?? external
        guard self != before else { return [] }
        updateTime = syncedAt ?? Int64(now.timeIntervalSince1970)
        version += 1
        var data: [String: JSONValue] = [
            "ticket_id": .string(ticketID), "status": .string(status.rawValue), "handler": JSONValue(handler),
            "priority": .string(priority.rawValue), "update_time": .string(ExternalTime.text(updateTime, zone: timeZone)), "conversation_id": JSONValue(conversationID),
            "external": external.map { ["system": .string($0.system), "id": .string($0.id), "url": JSONValue($0.url), "status": JSONValue($0.status)] } ?? .null,
        ]
        guard status != before.status else { return [DomainEvent(type: .ticketUpdated, data: .object(data))] }
        data["previous_status"] = .string(before.status.rawValue)
        return [DomainEvent(type: .ticketStatusChanged, data: .object(data))]
    }
}
