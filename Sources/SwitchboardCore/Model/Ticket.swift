import Foundation

/// A support ticket with the seed's fields, optionally tied to a conversation and mirrored in an
/// external ticketing system.
public struct Ticket: Encodable, Hashable, Sendable {
    public enum Priority: String, Codable, Hashable, Sendable, CaseIterable {
        case low, normal, high, urgent
    }

    /// The lifecycle; ticketing plugins map their system's statuses onto it.
    public enum Status: String, Codable, Hashable, Sendable, CaseIterable {
        case new, open, processing, pending, resolved, closed
    }

    /// `ExternalReference.system` of a ticket an external system created over the API under its own id.
    public static let apiSystem = "api"

    /// The ticket in an external system, once a ticketing plugin created it there, or the system that
    /// created it over the API (`apiSystem`).
    public struct ExternalReference: Codable, Hashable, Sendable {
        /// The plugin that holds it, e.g. `ticketing-rt`.
        public var system: String
        public var id: String
        public var url: String?
        /// The external system's own status at the last sync; a change of it is what moves `status`,
        /// so a status set here is not undone by a sync that saw nothing new there.
        public var status: String?

        /// Creates a reference.
        public init(system: String, id: String, url: String? = nil, status: String? = nil) {
            self.system = system
            self.id = id
            self.url = url
            self.status = status
        }
    }

    public var ticketID: String
    public var title: String
    public var content: String
    public var priority: Priority
    public var category: String?
    public var status: Status
    /// Who works on it (an agent id or the external system's owner name).
    public var handler: String?
    public var conversationID: String?
    public var customerID: String?
    public var external: ExternalReference?
    public var createdAt: Date
    /// Unix seconds of the last change (the seed's `update_time`, written out in `timeZone`): the
    /// external system's time for a change it synced.
    public var updateTime: Int64
    public var version: Int64
    /// The external time of the last status sync applied (`TicketChanges.updateTime`): an older one
    /// is not applied.
    public var syncedAt: Int64?
    /// The tenant's zone, in which `update_time` is written out.
    public var timeZone: TimeZone

    enum CodingKeys: String, CodingKey {
        case title, content, priority, category, status, handler, external, version
        case ticketID = "ticket_id"
        case conversationID = "conversation_id"
        case customerID = "customer_id"
        case createdAt = "created_at"
        case updateTime = "update_time"
    }

    /// Creates a ticket record.
    public init(
        ticketID: String,
        title: String,
        content: String,
        priority: Priority,
        category: String?,
        status: Status,
        handler: String?,
        conversationID: String?,
        customerID: String?,
        external: ExternalReference?,
        createdAt: Date,
        updateTime: Int64,
        version: Int64 = 1,
        syncedAt: Int64? = nil,
        timeZone: TimeZone = .utc
    ) {
        self.syncedAt = syncedAt
        self.timeZone = timeZone
        self.ticketID = ticketID
        self.title = title
        self.content = content
        self.priority = priority
        self.category = category
        self.status = status
        self.handler = handler
        self.conversationID = conversationID
        self.customerID = customerID
        self.external = external
        self.createdAt = createdAt
        self.updateTime = updateTime
        self.version = version
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(ticketID, forKey: .ticketID)
        try container.encode(title, forKey: .title)
        try container.encode(content, forKey: .content)
        try container.encode(priority, forKey: .priority)
        try container.encode(category, forKey: .category)
        try container.encode(status, forKey: .status)
        try container.encode(handler, forKey: .handler)
        try container.encode(conversationID, forKey: .conversationID)
        try container.encode(customerID, forKey: .customerID)
        try container.encode(external, forKey: .external)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(ExternalTime.text(updateTime, zone: timeZone), forKey: .updateTime)
        try container.encode(version, forKey: .version)
    }
}

/// The fields of a new ticket.
public struct NewTicket: Hashable, Sendable {
    /// The external system's id for it: a ticket already under this id is changed instead (an upsert).
    /// Nil: the server makes one.
    public var ticketID: String?
    public var title: String
    public var content: String
    /// Nil: `normal` for a new ticket; an existing one keeps its own.
    public var priority: Ticket.Priority?
    public var category: String?
    public var handler: String?
    public var conversationID: String?
    public var customerID: String?

    /// Creates the input.
    public init(
        title: String,
        content: String,
        priority: Ticket.Priority? = nil,
        category: String? = nil,
        handler: String? = nil,
        conversationID: String? = nil,
        customerID: String? = nil,
        ticketID: String? = nil
    ) {
        self.ticketID = ticketID
        self.title = title
        self.content = content
        self.priority = priority
        self.category = category
        self.handler = handler
        self.conversationID = conversationID
        self.customerID = customerID
    }
}

/// A change to a ticket: nil fields stay as they are.
public struct TicketChanges: Hashable, Sendable {
    public var status: Ticket.Status?
    public var handler: String?
    public var priority: Ticket.Priority?
    public var title: String?
    public var content: String?
    public var category: String?
    /// Set by the ticketing integration once the external system holds the ticket.
    public var external: Ticket.ExternalReference?
    /// When an external system made this change (the seed's status sync): a change older than the
    /// last sync applied is not applied. Nil: a change made here, now.
    public var updateTime: ExternalTime?

    /// Creates a change set.
    public init(
        status: Ticket.Status? = nil,
        handler: String? = nil,
        priority: Ticket.Priority? = nil,
        title: String? = nil,
        content: String? = nil,
        category: String? = nil,
        external: Ticket.ExternalReference? = nil,
        updateTime: ExternalTime? = nil
    ) {
        self.status = status
        self.handler = handler
        self.priority = priority
        self.title = title
        self.content = content
        self.category = category
        self.external = external
        self.updateTime = updateTime
    }
}

/// Filters of the ticket list; nil fields match everything.
public struct TicketFilter: Hashable, Sendable {
    /// Which external reference a ticket has.
    public enum External: Hashable, Sendable {
        /// None yet: the ticketing integration still has to create it.
        case missing
        /// One held by this system (a plugin id).
        case heldBy(String)
        /// This system's ticket `id`.
        case reference(system: String, id: String)
    }

    public var status: Ticket.Status?
    public var conversationID: String?
    public var customerID: String?
    public var external: External?
    /// Leaves out closed tickets.
    public var excludesClosed: Bool

    /// Creates a filter.
    public init(
        status: Ticket.Status? = nil,
        conversationID: String? = nil,
        customerID: String? = nil,
        external: External? = nil,
        excludesClosed: Bool = false
    ) {
        self.status = status
        self.conversationID = conversationID
        self.customerID = customerID
        self.external = external
        self.excludesClosed = excludesClosed
    }
}
