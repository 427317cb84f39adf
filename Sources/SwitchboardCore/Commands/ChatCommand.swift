/// A change to the core (chat, CRM records, tickets), carried out by a `ChatStore` in one transaction
/// with its events.
public enum ChatCommand: Hashable, Sendable {
    case createAgent(NewAgent)
    case updateAgent(id: String, AgentChanges, expectedVersion: Int64?)
    case deleteAgent(id: String, expectedVersion: Int64?)
    case createVisitor(NewVisitor)
    case createConversation(NewConversation)
    case updateConversation(id: String, ConversationChanges, expectedVersion: Int64?)
    case endConversation(id: String, expectedVersion: Int64?)
    case sendMessage(NewMessage)
    case editMessage(id: String, MessageChanges, expectedVersion: Int64?)
    case deleteMessage(id: String, expectedVersion: Int64?)
    /// Creates or changes a customer; with `mustExist` (PUT) an unknown customer is 404.
    case upsertCustomer(customerID: String, CustomerChanges, mustExist: Bool, expectedVersion: Int64?)
    /// Removes a customer and its orders.
    case deleteCustomer(customerID: String, expectedVersion: Int64?)
    case upsertOrder(OrderInput)
    case createTicket(NewTicket)
    case updateTicket(id: String, TicketChanges, expectedVersion: Int64?)
}

/// What a command produced.
public struct ChatResult: Hashable, Sendable {
    /// The resource after the change.
    public enum Resource: Hashable, Sendable {
        case agent(Agent)
        case visitor(Visitor)
        case conversation(Conversation)
        case message(Message)
        case customer(Customer)
        case order(Order)
        case ticket(Ticket)
        /// A removed resource: the answer is 204 without a body.
        case removed
    }

    public var resource: Resource
    /// Whether the command created the resource (a repeated `client_message_id` does not).
    public var isCreated: Bool
    /// For a sent message: the `seq` of its `message.received` event (the original's on a repeat).
    public var seq: Int64?

    /// Creates a result.
    public init(resource: Resource, isCreated: Bool, seq: Int64? = nil) {
        self.resource = resource
        self.isCreated = isCreated
        self.seq = seq
    }

    /// The resource's JSON body, as every transport renders it.
    public func encodedBody() throws -> [UInt8] {
        switch resource {
        case .agent(let agent): try SwitchboardJSON.encode(agent)
        case .visitor(let visitor): try SwitchboardJSON.encode(visitor)
        case .conversation(let conversation): try SwitchboardJSON.encode(conversation)
        case .message(let message): try SwitchboardJSON.encode(message)
        case .customer(let customer): try SwitchboardJSON.encode(customer)
        case .order(let order): try SwitchboardJSON.encode(order)
        case .ticket(let ticket): try SwitchboardJSON.encode(ticket)
        case .removed: []
        }
    }

    /// The resource's version, for an `ETag`; visitors are immutable and have none.
    public var version: Int64? {
        switch resource {
        case .agent(let agent): agent.version
        case .customer(let customer): customer.version
        case .order(let order): order.version
        case .ticket(let ticket): ticket.version
        case .visitor, .removed: nil
        case .conversation(let conversation): conversation.version
        case .message(let message): message.version
        }
    }
}

/// A client's `Idempotency-Key` and a fingerprint of the request it came with.
public struct IdempotencyKey: Hashable, Sendable {
    /// The key as the client sent it.
    public var key: String
    /// A digest of method, path and body: the same key with another fingerprint is rejected.
    public var fingerprint: String

    /// Creates a key.
    public init(key: String, fingerprint: String) {
        self.key = key
        self.fingerprint = fingerprint
    }
}

/// A response recorded under an idempotency key, replayed byte for byte.
public struct RecordedResponse: Hashable, Sendable {
    public var status: Int
    public var body: [UInt8]
    public var version: Int64?

    /// Creates a recorded response.
    public init(status: Int, body: [UInt8], version: Int64?) {
        self.status = status
        self.body = body
        self.version = version
    }
}

/// The outcome of executing a command.
public enum CommandOutcome: Hashable, Sendable {
    /// The command ran now.
    case applied(ChatResult)
    /// The idempotency key was seen before with the same request; this is its original response.
    case replayed(RecordedResponse)
}

extension SwitchboardError {
    /// The idempotency key was used before with a different request.
    public static let idempotencyKeyReused = SwitchboardError(
        kind: .invalidInput,
        code: "idempotency_key_reused",
        detail: "This Idempotency-Key was used with a different request.",
        field: "Idempotency-Key"
    )
}
