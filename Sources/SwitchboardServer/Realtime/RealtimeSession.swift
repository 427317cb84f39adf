import Foundation
import Logging
import NIOWebSocket
import SwitchboardCore
import WSCore

/// One `/ws` connection after the upgrade: registers with the hub, replays from `since`, then relays
/// live events, and carries out the client's frames (ping, message send, presence, subscribe).
///
/// Idle connections are closed by the hub's sweep (`RealtimeHub.closeIdle`), through the mailbox.
/// Close codes (also in the README): 4000 idle, 4001 slow consumer, 4002 too many frames, 4003 too
/// many connections for the principal, 4004 for the tenant; 1009 (frame too large) and 1001 (server
/// shutting down) come from the WebSocket layer.
struct RealtimeSession {
    let hub: RealtimeHub
    let store: any ChatStore
    let log: any EventLog
    let permissions: DataPermissions
    let presence: PresenceTracker
    let configuration: SwitchboardConfiguration.Realtime

    /// A close code and its reason.
    struct Close: Error {
        let code: Int
        let reason: String

        static let idle = Close(code: 4000, reason: "idle_timeout")
        static let slowConsumer = Close(code: 4001, reason: "slow_consumer: reconnect with since=")
        static let tooManyFrames = Close(code: 4002, reason: "rate_limited")
        static let tooManyForPrincipal = Close(code: 4003, reason: "too_many_connections_for_principal")
        static let tooManyForTenant = Close(code: 4004, reason: "too_many_connections_for_tenant")
    }

    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, context: RealtimeContext) async {
        let principal = context.principal
        let logger = context.logger
        // The mailbox writes on the channel's event loop; a close it starts (slow consumer, idle,
        // shutdown) goes out through WebSocket's close handshake once its last frame was written.
        let mailbox = Mailbox(limit: configuration.sendQueueLimit, eventLoop: context.channel.eventLoop) { closing in
            let close: Close? =
                switch closing {
                case .overflow: .slowConsumer
                case .shutdown: Close(code: 1001, reason: "server_shutdown")
                case .idle: .idle
                case .closed: nil
                }
            if let close { Task { await Self.close(outbound, close) } }
        }
        let listener: RealtimeHub.Listener
        do {
            let visibility = try permissions.visibility(of: principal)
            let receivesEvents = principal.role == .agent || principal.role == .visitor || principal.allows(.eventsRead)
            listener = try hub.register(principal: principal, visibility: visibility, mailbox: mailbox, receivesEvents: receivesEvents)
        } catch let refusal as RealtimeHub.Refusal {
            await Self.close(outbound, refusal == .tooManyForPrincipal ? .tooManyForPrincipal : .tooManyForTenant)
            return
        } catch {
            logger.warning("WebSocket refused: cannot resolve the principal's view", metadata: ["sb.error": "\(error)"])
            await Self.close(outbound, Close(code: 1011, reason: "unavailable"))
            return
        }
        // Just before the frame encoder (after TLS), the mailbox writes finished frames and sees writability.
        let channel = context.channel
        try? await channel.eventLoop.submit {
            let pipeline = channel.pipeline.syncOperations
            try pipeline.addHandler(mailbox, position: .before(try pipeline.handler(type: WebSocketFrameEncoder.self)))
        }.get()
        // The connection is over when the client's frames end: it closed, answered our close, or vanished.
        await replay(after: context.since, principal: principal, listener: listener, mailbox: mailbox)
        var bucket = FrameBucket(perSecond: configuration.framesPerSecond)
        do {
            for try await message in inbound.messages(maxSize: configuration.maxFrameBytes) {
                mailbox.touch()
                guard bucket.admit() else {
                    mailbox.close(.closed)
                    await Self.close(outbound, .tooManyFrames)
                    break
                }
                guard case .text(let text) = message else {
                    mailbox.send(RealtimeFrame.error(id: .null, code: "binary_frame", message: "Send JSON text frames."))
                    continue
                }
                await handle(text, principal: principal, listener: listener, mailbox: mailbox)
            }
        } catch {
            logger.debug("WebSocket read ended", metadata: ["sb.error": "\(error)"])
        }
        mailbox.close(.closed)
        if hub.unregister(listener) == 0, principal.role == .agent {
            presence.lastConnectionClosed(principal: principal)
        }
    }

    // MARK: - Replay

    /// Sends every visible event after `since` from the durable log, then lets live events through;
    /// without `since` the connection starts at the present.
    private func replay(after since: Int64?, principal: Principal, listener: RealtimeHub.Listener, mailbox: Mailbox) async {
        let tenant = principal.tenantID
        do {
            var cursor = try since ?? log.lastSeq(tenant: tenant)
            if since != nil, cursor + 1 < (try log.firstRetainedSeq(tenant: tenant)) {
                let now = try log.lastSeq(tenant: tenant)
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
                let events = try log.events(tenant: tenant, after: cursor, limit: 500)
                guard let last = events.last else { break }
                for event in events {
                    mailbox.replay(seq: event.seq, frame: listener.visibility.sees(hub.audience(of: event)) ? RealtimeFrame.event(event) : nil)
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

    private func handle(_ text: String, principal: Principal, listener: RealtimeHub.Listener, mailbox: Mailbox) async {
        guard let frame = try? JSONValue(parsing: text), case .object(let object) = frame,
            case .string(let type)? = object["type"]
        else {
            mailbox.send(RealtimeFrame.error(id: .null, code: "invalid_frame", message: "A frame is a JSON object with a string \"type\"."))
            return
        }
        let id = object["id"] ?? .null
        do {
            switch (type, object["action"]) {
            case ("ping", _):
                mailbox.send(RealtimeFrame.pong())
            case ("message", .string("send")?):
                mailbox.send(RealtimeFrame.ack(id: id, data: try await send(object, id: id, principal: principal)))
            case ("presence", _), ("event", .string("status_change")?):
                mailbox.send(RealtimeFrame.ack(id: id, data: try await setStatus(object, principal: principal)))
            case ("subscribe", _):
                guard case .number(let since)? = object["since"], since >= 0, since == since.rounded() else {
                    throw SwitchboardError.invalidField("since", "'since' must be a non-negative integer seq.")
                }
                await replay(after: Int64(since), principal: principal, listener: listener, mailbox: mailbox)
            default:
                throw SwitchboardError(kind: .invalidInput, code: "unknown_frame", detail: "Unknown frame type '\(type)'.", field: "type")
            }
        } catch let error as SwitchboardError {
            mailbox.send(RealtimeFrame.error(id: id, code: error.code, message: error.detail))
        } catch {
            mailbox.send(RealtimeFrame.error(id: id, code: "internal_error", message: "The frame could not be handled."))
        }
    }

    /// `{"type":"message","action":"send","id"?,"conversation_id"?,"data":{"from","to","content","timestamp"}}`,
    /// through the same core path as POST /api/v1/messages; the client's id makes retries safe.
    private func send(_ frame: [String: JSONValue], id: JSONValue, principal: Principal) async throws -> JSONValue {
        guard principal.allows(.messagesWrite) else {
            throw SwitchboardError(kind: .forbidden, code: "missing_scope", detail: "Sending messages needs the scope 'messages:write'.")
        }
        guard case .object(let data)? = frame["data"] else { throw SwitchboardError.missingField("data") }
        guard case .string(let from)? = data["from"] else { throw SwitchboardError.missingField("data.from") }
        guard case .string(let content)? = data["content"] else { throw SwitchboardError.missingField("data.content") }
        let to: String? = if case .string(let to)? = data["to"] { to } else { nil }
        let timestamp: Int64? = if case .number(let seconds)? = data["timestamp"] { Int64(seconds) } else { nil }
        let clientID: String? =
            switch id {
            case .string(let text): text
            case .number(let number): String(Int64(number))
            default: nil
            }
        let visibility = try permissions.visibility(of: principal)
        guard visibility.maySend(as: from) else {
            throw SwitchboardError(kind: .forbidden, code: "sender_not_principal", detail: "Agents and visitors send messages only as themselves.", field: "from")
        }
        let conversationID: String
        if case .string(let given)? = frame["conversation_id"] ?? data["conversation_id"] {
            conversationID = given
        } else {
            conversationID = try openConversation(between: from, and: to, principal: principal, visibility: visibility)
        }
        guard (try? permissions.conversation(conversationID, for: principal)) != nil else {
            throw SwitchboardError.unknownReference(field: "conversation_id", resource: "conversation")
        }
        let message = NewMessage(
            conversationID: conversationID,
            from: from,
            to: to,
            content: content,
            contentType: NewMessage.defaultContentType,
            clientMessageID: clientID,
            timestamp: timestamp
        )
        guard case .applied(let result) = try await store.execute(.sendMessage(message), tenant: principal.tenantID, idempotency: nil),
            case .message(let stored) = result.resource
        else { throw SwitchboardError(kind: .unavailable, code: "unavailable", detail: "The message could not be stored.") }
        return ["message_id": .string(stored.id), "conversation_id": .string(stored.conversationID), "seq": JSONValue(result.seq ?? 0)]
    }

    /// The newest open conversation visible to the principal in which `from` (and `to`, when given) take part.
    private func openConversation(between from: String, and to: String?, principal: Principal, visibility: Visibility) throws -> String {
        let filter = ConversationFilter(status: .open, visibility: visibility)
        var page = try store.conversations(tenant: principal.tenantID, filter: filter, page: PageRequest(limit: PageRequest.maxLimit))
        page.items.reverse()
        let participants = Set([from, to].compactMap { $0 })
        guard let match = page.items.first(where: { participants.isSubset(of: Set([$0.visitorID, $0.agentID].compactMap { $0 })) }) else {
            throw SwitchboardError.missingField("conversation_id")
        }
        return match.id
    }

    /// `{"type":"presence","data":{"status"}}`: an agent sets its own status.
    private func setStatus(_ frame: [String: JSONValue], principal: Principal) async throws -> JSONValue {
        guard principal.role == .agent else {
            throw SwitchboardError(kind: .forbidden, code: "not_an_agent", detail: "Only an agent's own connection sets its status.")
        }
        guard case .object(let data)? = frame["data"], case .string(let text)? = data["status"], let status = Agent.Status(rawValue: text) else {
            throw SwitchboardError.invalidField("data.status", "The status must be one of online, away, busy, offline.")
        }
        _ = try await store.execute(.updateAgent(id: principal.subject, AgentChanges(status: status), expectedVersion: nil), tenant: principal.tenantID, idempotency: nil)
        return ["agent_id": .string(principal.subject), "status": .string(status.rawValue)]
    }

    private static func close(_ outbound: WebSocketOutboundWriter, _ close: Close) async {
        try? await outbound.close(WebSocketErrorCode(codeNumber: close.code), reason: close.reason)
    }
}

/// A token bucket of client frames: `perSecond`, bursts of twice as many.
struct FrameBucket {
    let perSecond: Double
    var tokens: Double
    var last = ContinuousClock.now

    init(perSecond: Int) {
        self.perSecond = Double(perSecond)
        self.tokens = Double(perSecond) * 2
    }

    mutating func admit() -> Bool {
        let now = ContinuousClock.now
        tokens = min(perSecond * 2, tokens + (now - last) / .seconds(1) * perSecond)
        last = now
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}
