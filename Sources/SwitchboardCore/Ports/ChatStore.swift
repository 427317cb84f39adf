/// The chat core's persistence: reads per tenant, and commands that change state together with their events.
///
/// - Important: Reads are short (an indexed lookup) and asynchronous, so a backend with an asynchronous client serves them without blocking a thread.
///   `execute` may wait for a group commit.
public protocol ChatStore: Sendable {
    func agent(id: String, tenant: String) async throws -> Agent?
    func agents(tenant: String, status: Agent.Status?, page: PageRequest) async throws -> Page<Agent>
    func visitor(id: String, tenant: String) async throws -> Visitor?
    /// The first visitor with this external id (the id the tenant's own systems use).
    func visitor(externalID: String, tenant: String) async throws -> Visitor?
    func conversation(id: String, tenant: String) async throws -> Conversation?
    func conversations(tenant: String, filter: ConversationFilter, page: PageRequest) async throws -> Page<Conversation>
    func message(id: String, tenant: String) async throws -> Message?
    func messages(conversationID: String, tenant: String, page: PageRequest) async throws -> Page<Message>
    func customer(id: String, tenant: String) async throws -> Customer?
    func customers(tenant: String, filter: CustomerFilter, page: PageRequest) async throws -> Page<Customer>
    func order(id: String, tenant: String) async throws -> Order?
    /// A customer's orders in `order_id` order.
    func orders(customerID: String, tenant: String, page: PageRequest) async throws -> Page<Order>
    /// A customer's `limit` newest orders by `create_time`.
    func recentOrders(customerID: String, tenant: String, limit: Int) async throws -> [Order]
    func ticket(id: String, tenant: String) async throws -> Ticket?
    func tickets(tenant: String, filter: TicketFilter, page: PageRequest) async throws -> Page<Ticket>

    /// Runs `command` for `tenant` in one transaction that also appends its events to the log.
    ///
    /// With an idempotency key, the first run records its response in the same transaction; a
    /// later call with the same key and fingerprint returns `.replayed` without running again.
    /// - Throws: `SwitchboardError` for rule violations; nothing is written then.
    func execute(_ command: ChatCommand, tenant: String, idempotency: IdempotencyKey?) async throws -> CommandOutcome
}
