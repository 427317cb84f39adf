import Foundation
import Logging
import Synchronization
import SwitchboardCore
import SwitchboardPluginHost

/// The CRM record of a conversation's visitor, for the agent: the tenant's first running `crm`
/// integration (by id) is asked through `crm.lookup_customer`, and its answer is stored as the
/// customer (linked to the visitor) and their orders, so the record outlives the CRM.
///
/// A visitor's record is asked for again only after `ttl`, or when an agent asks for a refresh. When
/// the CRM fails (down, timing out, breaker open) the stored record is served with `stale: true`:
/// the lookup never fails the request, so chat goes on.
///
/// `crm.lookup_customer` gets `{visitor_id, external_id, name, customer_id?, phone?, email?}` and
/// answers `{customer: {customer_id, name, phone, email, level, tags, external_id}, orders:
/// [{order_id, amount, currency, status, create_time}]}`, or NOT_FOUND.
final class CustomerLookup: Sendable {
    /// What an agent sees of a conversation's customer.
    struct Result: Encodable {
        var conversationID: String
        var customer: Customer?
        var orders: [Order]
        /// True when the CRM could not be asked just now and this is what was stored before.
        var stale: Bool
        /// The CRM integration asked, if the tenant has one.
        var source: String?
        /// When the CRM last answered for this visitor (in this process).
        var checkedAt: Date?
        /// Why the record is stale.
        var detail: String?

        enum CodingKeys: String, CodingKey {
            case customer, orders, stale, source, detail
            case conversationID = "conversation_id"
            case checkedAt = "checked_at"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(conversationID, forKey: .conversationID)
            try container.encode(customer, forKey: .customer)
            try container.encode(orders, forKey: .orders)
            try container.encode(stale, forKey: .stale)
            try container.encode(source, forKey: .source)
            try container.encode(checkedAt, forKey: .checkedAt)
            try container.encode(detail, forKey: .detail)
        }
    }

    /// Orders shown with a customer, newest first.
    static let recentOrders = 10

    let integrations: IntegrationManager
    let store: any ChatStore
    let ttl: Duration
    let logger: Logger
    /// When the CRM last answered, by tenant and visitor.
    private let checked = Mutex<[String: Date]>([:])

    init(integrations: IntegrationManager, store: any ChatStore, ttl: Duration, logger: Logger) {
        self.integrations = integrations
        self.store = store
        self.ttl = ttl
        self.logger = logger
    }

    /// The customer of `conversation`'s visitor, from the CRM when the stored record is older than the
    /// TTL (or `refresh`), else as stored.
    func lookup(tenant: String, conversation: Conversation, refresh: Bool = false) async throws -> Result {
        let key = "\(tenant)/\(conversation.visitorID)"
        let stored = try await linkedCustomer(tenant: tenant, visitorID: conversation.visitorID)
        guard let plugin = await integrations.runningPlugins(tenant: tenant, capability: .crm).first else {
            return try await result(conversation, stored, tenant: tenant, stale: false, source: nil, checkedAt: nil)
        }
        let lastChecked = checked.withLock { $0[key] }
        if !refresh, let lastChecked, Date().timeIntervalSince(lastChecked) < ttl / .seconds(1) {
            return try await result(conversation, stored, tenant: tenant, stale: false, source: plugin, checkedAt: lastChecked)
        }
        let visitor = try await store.visitor(id: conversation.visitorID, tenant: tenant)
        var args: [String: JSONValue] = [
            "visitor_id": .string(conversation.visitorID), "external_id": JSONValue(visitor?.externalID), "name": JSONValue(visitor?.name),
        ]
        args["customer_id"] = stored.map { .string($0.customerID) }
        args["phone"] = stored?.phone.map(JSONValue.string)
        args["email"] = stored?.email.map(JSONValue.string)
        do {
            let outcome = try await integrations.call(tenant: tenant, plugin: plugin, op: "crm.lookup_customer", args: .object(args))
            let now = Date()
            switch outcome.status {
            case .ok:
                let customer = try await save(try JSONValue(parsing: outcome.body), tenant: tenant, plugin: plugin, visitorID: conversation.visitorID, stored: stored)
                checked.withLock { $0[key] = now }
                return try await result(conversation, customer, tenant: tenant, stale: false, source: plugin, checkedAt: now)
            case .notFound:
                checked.withLock { $0[key] = now }
                return try await result(conversation, stored, tenant: tenant, stale: false, source: plugin, checkedAt: now)
            default:
                throw SwitchboardError(kind: .unavailable, code: "crm_failed", detail: "crm.lookup_customer answered \(outcome.status): \(outcome.text)")
            }
        } catch let error as SwitchboardError where error.kind == .unavailable || error.kind == .conflict || error.kind == .invalidInput {
            logger.warning("CRM lookup failed; serving the stored record", metadata: ["sb.tenant": "\(tenant)", "sb.plugin": "\(plugin)", "sb.error": "\(error)"])
            var answer = try await result(conversation, stored, tenant: tenant, stale: true, source: plugin, checkedAt: lastChecked)
            answer.detail = error.detail
            return answer
        } catch is DecodingError {
            var answer = try await result(conversation, stored, tenant: tenant, stale: true, source: plugin, checkedAt: lastChecked)
            answer.detail = "The CRM answered something that is not JSON."
            return answer
        }
    }

    /// A consumer that looks up the customer of every conversation as it opens, so the agent finds the
    /// record already there. Conversations opened more than a TTL ago (a consumer catching up) are left
    /// to the agent's request.
    func consumer(log: any EventLog, logger: Logger) -> EventLogConsumer {
        // A repeated lookup after a crash only refreshes the record: the cursor is saved lazily.
        EventLogConsumer(
            name: "crm",
            log: log,
            cursorSaving: .atMostEvery(.seconds(1)),
            linger: EventLogConsumer.backgroundLinger,
            logger: logger
        ) { events in
            let horizon = Int64(Date().timeIntervalSince1970 - self.ttl / .seconds(1))
            for event in events where event.type == .conversationCreated && event.timestamp >= horizon {
                guard let id = event.data["conversation_id"]?.stringValue, let conversation = try await self.store.conversation(id: id, tenant: event.tenantID) else {
                    continue
                }
                _ = try await self.lookup(tenant: event.tenantID, conversation: conversation)
            }
        }
    }

    private func linkedCustomer(tenant: String, visitorID: String) async throws -> Customer? {
        try await store.customers(tenant: tenant, filter: CustomerFilter(visitorID: visitorID), page: PageRequest(limit: 1)).items.first
    }

    /// Stores the CRM's customer, linked to the visitor, and its orders.
    private func save(_ answer: JSONValue, tenant: String, plugin: String, visitorID: String, stored: Customer?) async throws -> Customer? {
        guard let record = answer["customer"], let customerID = record["customer_id"]?.stringValue else {
            throw SwitchboardError(kind: .unavailable, code: "crm_invalid", detail: "crm.lookup_customer answered no customer.customer_id.")
        }
        let tags: [String]? = if case .array(let items) = record["tags"] ?? .null { items.compactMap(\.stringValue) } else { nil }
        let level = record["level"].flatMap { $0.stringValue ?? $0.integerValue.map { String($0) } }
        let changes = CustomerChanges(
            name: record["name"]?.stringValue, phone: record["phone"]?.stringValue, email: record["email"]?.stringValue, level: level,
            tags: tags, source: plugin, externalID: record["external_id"]?.stringValue, linkedVisitorIDs: [visitorID]
        )
        let outcome = try await store.execute(.upsertCustomer(customerID: customerID, changes, mustExist: false, expectedVersion: nil), tenant: tenant, idempotency: nil)
        if case .array(let orders) = answer["orders"] ?? .null {
            for order in orders {
                guard let orderID = order["order_id"]?.stringValue, let amount = order["amount"]?.numberValue, let status = order["status"]?.stringValue else { continue }
                let input = OrderInput(
                    orderID: orderID, customerID: customerID, amount: amount, currency: order["currency"]?.stringValue, status: status,
                    createTime: order["create_time"].flatMap { try? ExternalTime($0, field: "create_time") }, source: plugin
                )
                _ = try await store.execute(.upsertOrder(input), tenant: tenant, idempotency: nil)
            }
        }
        guard case .applied(let result) = outcome, case .customer(let customer) = result.resource else { return stored }
        return customer
    }

    private func result(_ conversation: Conversation, _ customer: Customer?, tenant: String, stale: Bool, source: String?, checkedAt: Date?) async throws -> Result {
        var orders: [Order] = []
        if let customer { orders = try await store.recentOrders(customerID: customer.customerID, tenant: tenant, limit: Self.recentOrders) }
        return Result(conversationID: conversation.id, customer: customer, orders: orders, stale: stale, source: source, checkedAt: checkedAt)
    }
}
