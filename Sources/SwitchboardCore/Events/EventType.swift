/// The name of an event in the log, e.g. `message.received`.
public struct EventType: Hashable, Sendable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The dotted name.
    public let name: String

    /// Creates an event type from its dotted name.
    public init(_ name: String) { self.name = name }
    public init(stringLiteral value: String) { self.name = value }
    public init(from decoder: any Decoder) throws { self.name = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(name)
    }
    public var description: String { name }

    public static let agentCreated: EventType = "agent.created"
    public static let agentUpdated: EventType = "agent.updated"
    public static let agentDeleted: EventType = "agent.deleted"
    public static let agentStatusChanged: EventType = "agent.status_changed"
    public static let conversationCreated: EventType = "conversation.created"
    public static let conversationUpdated: EventType = "conversation.updated"
    public static let conversationEnded: EventType = "conversation.ended"
    public static let messageReceived: EventType = "message.received"
    public static let messageUpdated: EventType = "message.updated"
    public static let messageDeleted: EventType = "message.deleted"
    public static let customerSynced: EventType = "customer.synced"
    public static let customerDeleted: EventType = "customer.deleted"
    public static let orderLinked: EventType = "order.linked"
    public static let ticketCreated: EventType = "ticket.created"
    public static let ticketUpdated: EventType = "ticket.updated"
    public static let ticketStatusChanged: EventType = "ticket.status_changed"

    /// Every type the core emits, in documentation order.
    public static let core: [EventType] = [
        .agentCreated, .agentUpdated, .agentDeleted, .agentStatusChanged,
        .conversationCreated, .conversationUpdated, .conversationEnded,
        .messageReceived, .messageUpdated, .messageDeleted,
        .customerSynced, .customerDeleted, .orderLinked,
        .ticketCreated, .ticketUpdated, .ticketStatusChanged,
    ]
}
