/// Turns events into hourly `conversation` statistics: the rollup the statistics aggregator runs over
/// the event log.
///
/// A conversation's figures count under the agent, category and channel it has when the event happens,
/// in the UTC hour of the event's commit time. What the rollup must remember between events (creation
/// time, current dimensions, whether an agent answered, whether a ticket exists) is its `facts`.
public struct ConversationRollup: Sendable {
    /// The cells touched so far, with the amounts to add to each.
    public private(set) var cells: [RollupKey: [Double]] = [:]
    /// The facts of every conversation the rollup has seen or was given.
    public private(set) var facts: [ConversationKey: ConversationFacts]
    /// The conversations whose facts changed, to persist.
    public private(set) var changed: Set<ConversationKey> = []

    /// Creates a rollup that knows the given facts.
    public init(facts: [ConversationKey: ConversationFacts] = [:]) {
        self.facts = facts
    }

    /// The conversation an event's figures belong to, if the rollup reads this event at all.
    public static func conversation(of event: Event) -> ConversationKey? {
        guard relevantTypes.contains(event.type), let id = event.data["conversation_id"]?.stringValue else { return nil }
        return ConversationKey(tenantID: event.tenantID, conversationID: id)
    }

    static let relevantTypes: Set<EventType> = [
        .conversationCreated, .conversationUpdated, .conversationEnded, .messageReceived, .ticketCreated,
    ]

    /// Adds one event's figures. Events must come in log order.
    public mutating func apply(_ event: Event) {
        let key = Self.conversation(of: event)
        switch event.type {
        case .conversationCreated:
            guard let key else { return }
            let created = ConversationFacts(event: event)
            store(created, for: key)
            add(.total, 1, at: event, under: created)
        case .conversationUpdated:
            guard let key else { return }
            var current = facts[key] ?? ConversationFacts(event: event)
            current.adoptDimensions(of: event)
            store(current, for: key)
        case .conversationEnded:
            guard let key else { return }
            var current = facts[key] ?? ConversationFacts(event: event)
            current.adoptDimensions(of: event)
            guard current.endedAt == nil else { return }
            current.endedAt = event.timestamp
            store(current, for: key)
            let duration = Double(max(0, event.timestamp - current.createdAt))
            add(.closed, 1, at: event, under: current)
            add(.durationSum, duration, at: event, under: current)
            add(.durationWeight, 1, at: event, under: current)
            if !current.hasTicket {
                add(.success, 1, at: event, under: current)
                add(.resolutionSum, duration, at: event, under: current)
                add(.resolutionWeight, 1, at: event, under: current)
            }
        case .messageReceived:
            guard let key else { return }
            guard var current = facts[key] else {
                add(.messages, 1, at: event, under: ConversationFacts(event: event))
                return
            }
            add(.messages, 1, at: event, under: current)
            let sender = event.data["from"]?.stringValue
            if current.respondedAt == nil, let sender, sender != current.visitorID {
                current.respondedAt = event.timestamp
                store(current, for: key)
                add(.responded, 1, at: event, under: current)
                add(.firstResponseSum, Double(max(0, event.timestamp - current.createdAt)), at: event, under: current)
                add(.firstResponseWeight, 1, at: event, under: current)
            }
        case .ticketCreated:
            if let key, var current = facts[key] {
                add(.ticketsCreated, 1, at: event, under: current)
                if !current.hasTicket {
                    current.hasTicket = true
                    store(current, for: key)
                }
            } else {
                add(.ticketsCreated, 1, at: event, under: ConversationFacts(event: event))
            }
        default:
            return
        }
    }

    private mutating func store(_ value: ConversationFacts, for key: ConversationKey) {
        facts[key] = value
        changed.insert(key)
    }

    private mutating func add(_ slot: Slot, _ amount: Double, at event: Event, under facts: ConversationFacts) {
        let key = RollupKey(tenantID: event.tenantID, hour: event.timestamp.floorDivided(by: 3_600), dimensions: facts.dimensions)
        cells[key, default: Array(repeating: 0, count: Self.slotCount)][slot.rawValue] += amount
    }

    /// The slots of `StatisticType.conversation`, in its metric order.
    enum Slot: Int {
        case total, closed, success, messages, ticketsCreated, responded
        case firstResponseSum, firstResponseWeight, resolutionSum, resolutionWeight, durationSum, durationWeight
    }

    static let slotCount = StatisticType.conversation.slotCount
}

/// One conversation of one tenant.
public struct ConversationKey: Hashable, Sendable {
    public var tenantID: String
    public var conversationID: String

    /// Creates a key.
    public init(tenantID: String, conversationID: String) {
        self.tenantID = tenantID
        self.conversationID = conversationID
    }
}

/// One hourly cell of a tenant's statistics: a UTC hour and one value per dimension ("" for none).
public struct RollupKey: Hashable, Sendable {
    public var tenantID: String
    /// Hours since the Unix epoch (UTC).
    public var hour: Int64
    /// Agent id, category and channel, in `StatisticDimension.index` order.
    public var dimensions: [String]

    /// Creates a key.
    public init(tenantID: String, hour: Int64, dimensions: [String]) {
        self.tenantID = tenantID
        self.hour = hour
        self.dimensions = dimensions
    }
}

/// What the conversation rollup remembers about a conversation between its events.
public struct ConversationFacts: Hashable, Sendable {
    public var visitorID: String
    /// Agent id, category and channel now ("" for none), in `StatisticDimension.index` order.
    public var dimensions: [String]
    /// Unix seconds.
    public var createdAt: Int64
    /// When the first message not from the visitor came, in Unix seconds.
    public var respondedAt: Int64?
    /// When it ended, in Unix seconds.
    public var endedAt: Int64?
    /// Whether a ticket was created for it.
    public var hasTicket: Bool

    /// Creates the facts.
    public init(visitorID: String, dimensions: [String], createdAt: Int64, respondedAt: Int64? = nil, endedAt: Int64? = nil, hasTicket: Bool = false) {
        self.visitorID = visitorID
        self.dimensions = dimensions
        self.createdAt = createdAt
        self.respondedAt = respondedAt
        self.endedAt = endedAt
        self.hasTicket = hasTicket
    }

    /// The facts an event tells by itself: a conversation event carries every dimension, other events
    /// at most a category.
    init(event: Event) {
        self.init(
            visitorID: event.data["visitor_id"]?.stringValue ?? "",
            dimensions: ["", "", ""],
            createdAt: event.data["created_at"]?.integerValue ?? event.timestamp
        )
        adoptDimensions(of: event)
    }

    mutating func adoptDimensions(of event: Event) {
        if event.type == .ticketCreated {
            dimensions[StatisticDimension.category.index] = event.data["category"]?.stringValue ?? ""
            return
        }
        dimensions = [
            event.data["agent_id"]?.stringValue ?? "",
            event.data["category"]?.stringValue ?? "",
            event.data["channel"]?.stringValue ?? "",
        ]
    }
}

extension Int64 {
    /// Division rounding toward negative infinity.
    func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
