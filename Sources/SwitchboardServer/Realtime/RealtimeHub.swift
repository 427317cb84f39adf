import CoreMetrics
import Logging
import NIOCore
import Synchronization
import SwitchboardCore

/// The open WebSocket connections by tenant, and the fan-out of the tenants' events to those whose
/// principal may see them.
/// - Important: Thread-safe: the registry is behind a mutex; `publish` runs on the tail task.
final class RealtimeHub: Sendable {
    /// One open connection. A class, so that the fan-out walks references rather than copying each
    /// connection's principal.
    final class Listener: Sendable {
        let principal: Principal
        let visibility: Visibility
        let mailbox: Mailbox
        /// Whether events go to it at all (an admin or integration key without events:read gets none).
        let receivesEvents: Bool

        init(principal: Principal, visibility: Visibility, mailbox: Mailbox, receivesEvents: Bool) {
            self.principal = principal
            self.visibility = visibility
            self.mailbox = mailbox
            self.receivesEvents = receivesEvents
        }

        var principalKey: String { RealtimeHub.key(of: principal) }
    }

    /// The key under which a principal's connections are counted.
    static func key(of principal: Principal) -> String { principal.tenantID + " " + principal.subject }

    /// Who may see an event.
    enum Audience {
        case conversation(agentID: String?, visitorID: String)
        /// Agents and admins: agent records and presence.
        case agents
        /// Admins and integrations only.
        case administrators
    }

    private struct State {
        var listeners: [String: [Listener]] = [:]
        var perPrincipal: [String: Int] = [:]
        /// The agent and visitor of conversations seen lately, for events that name only the conversation.
        var conversations: [String: (agentID: String?, visitorID: String)] = [:]
    }

    private let state = Mutex(State())
    private let store: any ChatStore
    private let limits: SwitchboardConfiguration.Realtime
    private let logger: Logger
    /// `sb_websocket_closes_total{reason}` by the closes the server starts, each made at start so
    /// that it counts from 0.
    private let closes: [String: Counter]

    init(store: any ChatStore, limits: SwitchboardConfiguration.Realtime, metrics: (any MetricsFactory)? = nil, logger: Logger) {
        self.store = store
        self.limits = limits
        self.closes = Dictionary(uniqueKeysWithValues: (metrics.map { metrics in
            RealtimeClose.startedByServer.map { close in
                (close.metricName, Counter(label: "sb_websocket_closes_total", dimensions: [("reason", close.metricName)], factory: metrics))
            }
        } ?? []))
        self.logger = logger
    }

    /// Counts a close the server started, by its reason: `sb_websocket_closes_total{reason}`.
    func countClose(_ close: RealtimeClose) {
        closes[close.metricName]?.increment()
    }

    /// Adds a connection; its mailbox starts in replay mode.
    /// - Throws: `.tooManyForPrincipal` or `.tooManyForTenant` past the configured limits.
    func register(principal: Principal, visibility: Visibility, mailbox: Mailbox, receivesEvents: Bool) throws(RealtimeClose) -> Listener {
        try state.withLock { state throws(RealtimeClose) in
            let key = Self.key(of: principal)
            guard state.perPrincipal[key, default: 0] < limits.maxConnectionsPerPrincipal else { throw .tooManyForPrincipal }
            guard state.listeners[principal.tenantID, default: []].count < limits.maxConnectionsPerTenant else { throw .tooManyForTenant }
            let listener = Listener(principal: principal, visibility: visibility, mailbox: mailbox, receivesEvents: receivesEvents)
            state.listeners[principal.tenantID, default: []].append(listener)
            state.perPrincipal[key, default: 0] += 1
            return listener
        }
    }

    /// Removes a connection.
    /// - Returns: how many connections its principal still has.
    @discardableResult
    func unregister(_ listener: Listener) -> Int {
        state.withLock { state in
            state.listeners[listener.principal.tenantID]?.removeAll { $0 === listener }
            if state.listeners[listener.principal.tenantID]?.isEmpty == true { state.listeners[listener.principal.tenantID] = nil }
            let remaining = max(0, state.perPrincipal[listener.principalKey, default: 1] - 1)
            state.perPrincipal[listener.principalKey] = remaining == 0 ? nil : remaining
            return remaining
        }
    }

    /// How many connections a principal has open.
    func connections(of principal: Principal) -> Int {
        state.withLock { $0.perPrincipal[Self.key(of: principal), default: 0] }
    }

    /// How many connections are open across every tenant.
    var connectionCount: Int {
        state.withLock { $0.listeners.values.reduce(0) { $0 + $1.count } }
    }

    /// Closes every connection whose client sent no data frame for the idle timeout.
    func closeIdle() {
        let deadline = ContinuousClock.now - .seconds(limits.idleTimeoutSeconds)
        for listener in allListeners() { listener.mailbox.closeIfIdle(since: deadline) }
    }

    /// Every open connection, for shutdown and the idle sweep.
    func allListeners() -> [Listener] {
        state.withLock { $0.listeners.values.flatMap { $0 } }
    }

    /// Hands each event, encoded once, to every connection of its tenant that may see it.
    /// - Throws: the store's error when a message's conversation cannot be read; the events before it
    ///   were handed out, and publishing them again delivers none twice (mailboxes drop seen seqs).
    func publish(_ events: [Event]) async throws {
        var drains = Mailbox.Drains()
        defer { drains.run() }
        for event in events {
            let listeners = state.withLock { $0.listeners[event.tenantID] } ?? []
            // Conversation events keep the directory of assignments current even with nobody listening.
            guard !listeners.isEmpty || event.type.name.hasPrefix("conversation.") else { continue }
            let audience = try await audience(of: event)
            var frame: ByteBuffer?
            for listener in listeners where listener.receivesEvents && listener.visibility.sees(audience) {
                if frame == nil { frame = RealtimeFrame.event(event) }
                listener.mailbox.deliver(seq: event.seq, frame: frame!, drains: &drains)
            }
        }
    }

    /// Who may see an event; conversation events also update the directory message events rely on.
    /// - Throws: the store's error when a message's conversation is not in the directory and cannot be read.
    func audience(of event: Event) async throws -> Audience {
        let data = event.data
        switch event.type.name {
        case let name where name.hasPrefix("conversation."):
            guard case .string(let id)? = data["conversation_id"], case .string(let visitor)? = data["visitor_id"] else { return .administrators }
            let agent: String? = if case .string(let agent)? = data["agent_id"] { agent } else { nil }
            state.withLock { state in
                if state.conversations.count > 100_000 { state.conversations.removeAll() }
                state.conversations[id] = (agent, visitor)
            }
            return .conversation(agentID: agent, visitorID: visitor)
        case let name where name.hasPrefix("message."):
            guard case .string(let id)? = data["conversation_id"] else { return .administrators }
            if let known = state.withLock({ $0.conversations[id] }) { return .conversation(agentID: known.agentID, visitorID: known.visitorID) }
            guard let conversation = try await store.conversation(id: id, tenant: event.tenantID) else { return .administrators }
            state.withLock { $0.conversations[id] = (conversation.agentID, conversation.visitorID) }
            return .conversation(agentID: conversation.agentID, visitorID: conversation.visitorID)
        // Agents read every agent, customer and ticket of the tenant over REST, so they get these events too.
        case let name where ["agent.", "customer.", "order.", "ticket."].contains(where: name.hasPrefix):
            return .agents
        default:
            return .administrators
        }
    }
}

extension Visibility {
    /// Whether a principal with this view receives events of `audience`.
    func sees(_ audience: RealtimeHub.Audience) -> Bool {
        switch (self, audience) {
        case (.all, _): true
        case (.agent(let id, let seesQueue), .conversation(let agent, _)): agent == id || (seesQueue && agent == nil)
        case (.agent, .agents): true
        case (.visitor(let id), .conversation(_, let visitor)): visitor == id
        default: false
        }
    }
}
