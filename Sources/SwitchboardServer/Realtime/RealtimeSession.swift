import Foundation
import Logging
import NIOCore
import SwitchboardCore

/// What a `/ws` connection does, for its `RealtimeConnection`: registers with the hub, replays from
/// `since`, and carries out the client's frames (ping, message send, presence, subscribe).
///
/// Idle connections are closed by the hub's sweep (`RealtimeHub.closeIdle`), through the mailbox.
/// Close codes are `RealtimeClose` (also in the README).
struct RealtimeSession: Sendable {
    let hub: RealtimeHub
    let store: any ChatStore
    let log: any EventLog
    let permissions: DataPermissions
    let presence: PresenceTracker
    let configuration: SwitchboardConfiguration.Realtime
    /// Where connections run their jobs; the server runs it until shutdown (`TaskPoolService`).
    let jobs: TaskPool

    /// The handlers a connection that upgraded adds to its pipeline: its mailbox goes just before the
    /// frame encoder (after TLS), the connection at the end.
    func handlers(for context: RealtimeContext, eventLoop: any EventLoop) -> (mailbox: Mailbox, connection: RealtimeConnection) {
        let mailbox = Mailbox(limit: configuration.sendQueueLimit, eventLoop: eventLoop)
        return (mailbox, RealtimeConnection(session: self, context: context, mailbox: mailbox))
    }

    /// Adds a connection of `principal` to the hub.
    /// - Throws: the close for a refused connection: too many for the principal or the tenant, or unavailable.
    func register(_ principal: Principal, mailbox: Mailbox, logger: Logger) async throws(RealtimeClose) -> RealtimeHub.Listener {
        let visibility: Visibility
        do {
            visibility = try await permissions.visibility(of: principal)
        } catch {
            logger.warning("WebSocket refused: cannot resolve the principal's view", metadata: ["sb.error": "\(error)"])
            throw .unavailable
        }
        let receivesEvents = principal.role == .agent || principal.role == .visitor || principal.allows(.eventsRead)
        let listener = try hub.register(principal: principal, visibility: visibility, mailbox: mailbox, receivesEvents: receivesEvents)
        if principal.role == .agent { await presence.connectionOpened(principal: principal) }
        return listener
    }

    /// Removes a closed connection; an agent's last one starts the presence grace period.
    func release(_ listener: RealtimeHub.Listener) {
        if hub.unregister(listener) == 0, listener.principal.role == .agent {
            presence.lastConnectionClosed(principal: listener.principal)
        }
    }

    // MARK: - Replay

    /// Sends every visible event after `since` from the durable log, then lets live events through;
    /// without `since` the connection starts at the present.
    func replay(after since: Int64?, listener: RealtimeHub.Listener, mailbox: Mailbox) async {
        let tenant = listener.principal.tenantID
        do {
            var cursor: Int64
            if let since { cursor = since } else { cursor = try await log.lastSeq(tenant: tenant) }
            // No arithmetic on the client's number: `since` may be as large as Int64 allows.
            if since != nil, try await cursor < log.firstRetainedSeq(tenant: tenant) - 1 {
                let now = try await log.lastSeq(tenant: tenant)
                mailbox.send(
                    RealtimeFrame.error(
                        id: .null,
                        code: "resync_required",
                        message: "Events after \(cursor) are no longer kept: reload over REST, then resume with since=\(now)."
                    )
                )
                cursor = now
            }
            mailbox.beginReplay(after: cursor)
            while listener.receivesEvents {
                let events = try await log.events(tenant: tenant, after: cursor, limit: 500)
                guard let last = events.last else { break }
                for event in events {
                    await mailbox.replay(seq: event.seq, frame: listener.visibility.sees(try hub.audience(of: event)) ? RealtimeFrame.event(event) : nil)
                }
                cursor = last.seq
                if mailbox.closing != nil { return }
            }
        } catch {
            mailbox.send(RealtimeFrame.error(id: .null, code: "unavailable", message: "The event log cannot be read now; reconnect with since=."))
        }
        mailbox.finishReplay()
        mailbox.send(RealtimeFrame.ready(seq: mailbox.lastSeq))
    }

    // MARK: - Client frames

    /// Carries out one JSON frame of the client; answers go to its mailbox.
    func handle(_ text: String, listener: RealtimeHub.Listener, mailbox: Mailbox) async {
        let frame = ClientFrame(parsing: text)
        let principal = listener.principal
        do {
            switch try frame.command.get() {
            case .ping:
                mailbox.send(RealtimeFrame.pong())
            case .sendMessage(let message):
                mailbox.send(RealtimeFrame.ack(id: frame.id, data: try await send(message, clientID: frame.clientID, principal: principal)))
            case .setStatus(let status):
                mailbox.send(RealtimeFrame.ack(id: frame.id, data: try await setStatus(status, principal: principal)))
            case .subscribe(let since):
                await replay(after: since, listener: listener, mailbox: mailbox)
            }
        } catch let error as SwitchboardError {
            mailbox.send(RealtimeFrame.error(id: frame.id, code: error.code, message: error.detail))
        } catch {
            mailbox.send(RealtimeFrame.error(id: frame.id, code: "internal_error", message: "The frame could not be handled."))
        }
    }

    /// A message frame, through the same core path as POST /api/v1/messages; the client's id makes retries safe.
    private func send(_ frame: ClientFrame.Message, clientID: String?, principal: Principal) async throws -> JSONValue {
        guard principal.allows(.messagesWrite) else {
            throw SwitchboardError(kind: .forbidden, code: "missing_scope", detail: "Sending messages needs the scope 'messages:write'.")
        }
        let visibility = try await permissions.visibility(of: principal)
        let conversationID: String
        if let existing = frame.conversationID {
            conversationID = existing
        } else {
            conversationID = try await openConversation(between: frame.from, and: frame.to, principal: principal, visibility: visibility)
        }
        try await permissions.authorizeSend(into: conversationID, from: frame.from, tenant: principal.tenantID, visibleIn: visibility)
        let message = NewMessage(
            conversationID: conversationID,
            from: frame.from,
            to: frame.to,
            content: frame.content,
            contentType: NewMessage.defaultContentType,
            clientMessageID: clientID,
            timestamp: frame.timestamp
        )
        guard case .applied(let result) = try await store.execute(.sendMessage(message), tenant: principal.tenantID, idempotency: nil),
            case .message(let stored) = result.resource
        else { throw SwitchboardError(kind: .unavailable, code: "unavailable", detail: "The message could not be stored.") }
        return ["message_id": .string(stored.id), "conversation_id": .string(stored.conversationID), "seq": JSONValue(result.seq ?? 0)]
    }

    /// The newest open conversation visible to the principal in which `from` (and `to`, when given) take part.
    private func openConversation(between from: String, and to: String?, principal: Principal, visibility: Visibility) async throws -> String {
        let filter = ConversationFilter(status: .open, visibility: visibility)
        var page = try await store.conversations(tenant: principal.tenantID, filter: filter, page: PageRequest(limit: PageRequest.maxLimit))
        page.items.reverse()
        let participants = Set([from, to].compactMap { $0 })
        guard let match = page.items.first(where: { participants.isSubset(of: Set([$0.visitorID, $0.agentID].compactMap { $0 })) }) else {
            throw SwitchboardError.missingField("conversation_id")
        }
        return match.id
    }

    /// An agent sets its own status.
    private func setStatus(_ status: Agent.Status, principal: Principal) async throws -> JSONValue {
        guard principal.role == .agent else {
            throw SwitchboardError(kind: .forbidden, code: "not_an_agent", detail: "Only an agent's own connection sets its status.")
        }
        _ = try await store.execute(
            .updateAgent(id: principal.subject, AgentChanges(status: status), expectedVersion: nil),
            tenant: principal.tenantID,
            idempotency: nil
        )
        return ["agent_id": .string(principal.subject), "status": .string(status.rawValue)]
    }
}
