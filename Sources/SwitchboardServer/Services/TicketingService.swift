import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import SwitchboardCore
import SwitchboardPluginHost

/// Mirrors tickets into each tenant's ticketing system (its running `ticketing` integration, the first
/// by id when there are several) and brings status changes made there back.
///
/// Every round, per tenant:
/// 1. each open ticket without an external reference, oldest first, goes to `ticketing.create_ticket`
///    `{ticket_id, title, content, priority, category, status, handler, conversation_id, customer_id}`
///    → `{external_id, url?, status?}`, and the reference is stored (`ticket.updated`). The queue is
///    the tickets table itself: a system that is down leaves the tickets waiting, in order, and the next
///    round tries again, so none is lost; one it refuses as invalid is skipped for the round. A crash
///    between the system's answer and the store's commit sends that ticket again (at least once).
/// 2. the open tickets it holds go to `ticketing.sync` `{tickets: [{ticket_id, external_id,
///    external_status}]}` → `{tickets: [{ticket_id, external_status, status, handler?}]}`; a ticket
///    whose external status moved takes the mapped status (`ticket.status_changed`). A status set here
///    meanwhile is not undone: only a change over there moves it.
///
/// `nudge(tenant:)` has a round run for one tenant at once, so a new ticket does not wait for the timer
/// (on the server holding the ticket-sync lease; elsewhere the holder's next timed round takes it);
/// `apply` takes status reports a plugin verified on its inbound route.
actor TicketingService: Service {
    let integrations: IntegrationManager
    let store: any ChatStore
    let interval: Duration
    let logger: Logger
    /// Tenants whose round is running; a nudge during one is left to it.
    private var busy: Set<String> = []
    /// Tenants nudged and not yet served: a tenant nudged again before its round is in here once.
    private nonisolated let nudged = Mutex<Set<String>>([])
    /// Wakes `run()` for the nudged tenants. A signal, not a stream: `run()` may end and start again
    /// (the sync lease moves away and back), and a cancelled stream would stay finished.
    private nonisolated let nudges = CommitSignal()

    /// Tickets sent per call.
    static let batchLimit = 50

    init(integrations: IntegrationManager, store: any ChatStore, interval: Duration, logger: Logger) {
        self.integrations = integrations
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    var seen: UInt64 = 0
                    while !Task.isCancelled {
                        await self.nudges.wait(after: seen)
                        seen = self.nudges.generation
                        let tenants = self.nudged.withLock { nudged in
                            defer { nudged = [] }
                            return nudged
                        }
                        for tenant in tenants.sorted() { await self.round(tenant: tenant) }
                    }
                }
                while !Task.isCancelled {
                    await self.syncAll()
                    try? await Task.sleep(for: self.interval)
                }
                group.cancelAll()
            }
        }
    }

    /// Asks for a round for `tenant` now, without waiting for it; nudges that come before the round
    /// starts are one round.
    nonisolated func nudge(tenant: String) {
        nudged.withLock { _ = $0.insert(tenant) }
        nudges.notify()
    }

    /// Runs a round for `tenant`, if it has a ticketing integration.
    private func round(tenant: String) async {
        guard let plugin = await integrations.runningPlugins(tenant: tenant, capability: .ticketing).first else { return }
        await sync(tenant: tenant, plugin: plugin)
    }

    private func syncAll() async {
        for (tenant, plugin) in await ticketingPlugins().sorted(by: { $0.key < $1.key }) {
            await sync(tenant: tenant, plugin: plugin)
        }
    }

    /// The plugin that holds each tenant's tickets.
    private func ticketingPlugins() async -> [String: String] {
        var chosen: [String: String] = [:]
        for (tenant, plugin) in await integrations.runningIntegrations(capability: .ticketing) where chosen[tenant] == nil {
            chosen[tenant] = plugin
        }
        return chosen
    }

    private func sync(tenant: String, plugin: String) async {
        guard busy.insert(tenant).inserted else { return }
        defer { busy.remove(tenant) }
        do {
            try await createPending(tenant: tenant, plugin: plugin)
            try await pullStatuses(tenant: tenant, plugin: plugin)
        } catch {
            logger.warning("Ticketing sync failed; retrying next round", metadata: ["sb.tenant": "\(tenant)", "sb.plugin": "\(plugin)", "sb.error": "\(error)"])
        }
    }

    private func createPending(tenant: String, plugin: String) async throws {
        var after: String?
        repeat {
            let page = try await store.tickets(
                tenant: tenant,
                filter: TicketFilter(external: .missing, excludesClosed: true),
                page: PageRequest(limit: Self.batchLimit, after: after)
            )
            after = page.nextAfter
            for ticket in page.items {
                let args: JSONValue = [
                    "ticket_id": .string(ticket.ticketID), "title": .string(ticket.title), "content": .string(ticket.content),
                    "priority": .string(ticket.priority.rawValue), "category": JSONValue(ticket.category), "status": .string(ticket.status.rawValue),
                    "handler": JSONValue(ticket.handler), "conversation_id": JSONValue(ticket.conversationID), "customer_id": JSONValue(ticket.customerID),
                ]
                let outcome = try await integrations.call(tenant: tenant, plugin: plugin, op: "ticketing.create_ticket", args: args)
                // A ticket the system refuses as invalid is tried again next round but holds up no other.
                if outcome.status == .invalid {
                    logger.warning(
                        "Ticketing refused a ticket; retrying next round",
                        metadata: ["sb.tenant": "\(tenant)", "sb.plugin": "\(plugin)", "sb.ticket": "\(ticket.ticketID)", "sb.error": "\(outcome.text)"]
                    )
                    continue
                }
                let answer = try Self.answer(outcome, op: "ticketing.create_ticket")
                guard let externalID = answer["external_id"]?.stringValue, !externalID.isEmpty else {
                    throw SwitchboardError(kind: .unavailable, code: "ticketing_invalid", detail: "ticketing.create_ticket answered no external_id.")
                }
                let reference = Ticket.ExternalReference(system: plugin, id: externalID, url: answer["url"]?.stringValue, status: answer["status"]?.stringValue)
                try await update(ticket.ticketID, tenant: tenant, TicketChanges(external: reference))
            }
        } while after != nil
    }

    private func pullStatuses(tenant: String, plugin: String) async throws {
        var after: String?
        repeat {
            let page = try await store.tickets(
                tenant: tenant,
                filter: TicketFilter(external: .heldBy(plugin), excludesClosed: true),
                page: PageRequest(limit: Self.batchLimit, after: after)
            )
            after = page.nextAfter
            guard !page.items.isEmpty else { return }
            let tickets: [JSONValue] = page.items.compactMap { ticket in
                ticket.external.map { ["ticket_id": .string(ticket.ticketID), "external_id": .string($0.id), "external_status": JSONValue($0.status)] }
            }
            let answer = try await call(tenant: tenant, plugin: plugin, op: "ticketing.sync", args: ["tickets": .array(tickets)])
            if case .array(let reports) = answer["tickets"] ?? .null {
                try await apply(reports, tenant: tenant, plugin: plugin)
            }
        } while after != nil
    }

    /// Applies status reports of `plugin`'s system, `{ticket_id or external_id, external_status, status,
    /// handler?}`: a ticket whose external status moved takes the reported status.
    /// - Returns: how many tickets changed.
    @discardableResult
    func apply(_ reports: [JSONValue], tenant: String, plugin: String) async throws -> Int {
        var changed = 0
        for report in reports {
            let ticket: Ticket? =
                if let id = report["ticket_id"]?.stringValue {
                    try await store.ticket(id: id, tenant: tenant)
                } else if let external = report["external_id"]?.stringValue {
                    try await store.tickets(tenant: tenant, filter: TicketFilter(external: .reference(system: plugin, id: external)), page: PageRequest(limit: 1)).items.first
                } else {
                    nil
                }
            guard let ticket, var reference = ticket.external, reference.system == plugin,
                let externalStatus = report["external_status"]?.stringValue, externalStatus != reference.status
            else { continue }
            guard let status = report["status"]?.stringValue.flatMap(Ticket.Status.init(rawValue:)) else {
                logger.warning("Ticketing reported an unknown status", metadata: ["sb.tenant": "\(tenant)", "sb.plugin": "\(plugin)", "sb.ticket": "\(ticket.ticketID)"])
                continue
            }
            reference.status = externalStatus
            try await update(ticket.ticketID, tenant: tenant, TicketChanges(status: status, handler: report["handler"]?.stringValue, external: reference))
            changed += 1
        }
        return changed
    }

    private func call(tenant: String, plugin: String, op: String, args: JSONValue) async throws -> JSONValue {
        try Self.answer(try await integrations.call(tenant: tenant, plugin: plugin, op: op, args: args), op: op)
    }

    /// The JSON of an OK outcome.
    /// - Throws: `ticketing_failed` for any other status.
    private static func answer(_ outcome: CallOutcome, op: String) throws -> JSONValue {
        guard outcome.status == .ok else {
            throw SwitchboardError(kind: .unavailable, code: "ticketing_failed", detail: "\(op) answered \(outcome.status): \(outcome.text)")
        }
        return try JSONValue(parsing: outcome.body)
    }

    private func update(_ id: String, tenant: String, _ changes: TicketChanges) async throws {
        _ = try await store.execute(.updateTicket(id: id, changes, expectedVersion: nil), tenant: tenant, idempotency: nil)
    }
}
