import Foundation
import HTTPTypes
import HummingbirdTesting
import HummingbirdWSClient
import SwitchboardCore
import SwitchboardTestSupport
import Testing

/// The seed's payloads (a copy of the mission's `payloads.md` in Tests/Fixtures/seed) sent exactly as
/// written, `"xxx"` and the like standing for ids, and every payload the server sends checked for the
/// seed's fields and their types: REST, WebSocket frames and webhook bodies.
@Suite(.timeLimit(.minutes(3))) struct SeedConformanceTests {
    /// The seed's document, as the repository keeps it.
    static let document: String = {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/seed/payloads.md").path
        return (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }()

    /// Every JSON payload in the document's code blocks, each as its exact text (a payload may span lines).
    static var payloads: [String] {
        var payloads: [String] = []
        var pending = ""
        var isInBlock = false
        for line in document.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") {
                isInBlock.toggle()
                pending = ""
                continue
            }
            guard isInBlock else { continue }
            if pending.isEmpty, !line.hasPrefix("{") { continue }
            pending += pending.isEmpty ? String(line) : "\n" + line
            if (try? JSONValue(parsing: pending)) != nil {
                payloads.append(pending)
                pending = ""
            }
        }
        return payloads
    }

    /// The payload whose text starts with `prefix`.
    static func payload(_ prefix: String) throws -> String {
        let matches = payloads.filter { $0.hasPrefix(prefix) }
        guard matches.count == 1, let match = matches.first else {
            throw TestSetupError("the seed has \(matches.count) payloads starting with \(prefix)")
        }
        return match
    }

    /// The text of the seed's one-line request `method path?query` (the statistics report).
    static func requestLine(_ method: String) throws -> String {
        guard let line = document.split(separator: "\n").first(where: { $0.hasPrefix(method + " /api/v1/statistics/report") }) else {
            throw TestSetupError("the seed has no \(method) line")
        }
        return String(line.dropFirst(method.count + 1))
    }

    @Test func theDocumentHoldsTheSeedsPayloads() throws {
        #expect(Self.payloads.count == 10, "the seed's JSON payloads: \(Self.payloads.count)")
        #expect(Self.document.contains("ws.send(JSON.stringify({type: 'ping'}))"))
    }

    @Test func crmAndTicketingPayloadsAreAcceptedAsWrittenAndAnsweredInTheSeedsForm() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let key = server.tenantA.key
            let customer = try await client.call(.post, "/api/v1/customers", key: key, body: try Self.payload(#"{"customer_id": "xxx", "name""#))
            #expect(customer.status == .created, "\(customer.json)")
            #expect(customer["customer_id"] == "xxx" && customer["name"] == "张三" && customer["phone"] == "13800138000")
            #expect(customer["level"] == "VIP" && customer["tags"] == ["重要客户"])

            let order = try await client.call(.post, "/api/v1/orders", key: key, body: try Self.payload(#"{"order_id": "xxx""#))
            #expect(order.status == .created, "\(order.json)")
            #expect(order["order_id"] == "xxx" && order["customer_id"] == "xxx" && order["amount"] == 9999 && order["status"] == "paid")
            #expect(order["create_time"] == "2023-10-26 12:00:00", "the seed's form, in the tenant's zone (UTC)")

            let ticket = try await client.call(.post, "/api/v1/tickets", key: key, body: try Self.payload(#"{"ticket_id": "xxx", "title""#))
            #expect(ticket.status == .created, "\(ticket.json)")
            #expect(ticket["ticket_id"] == "xxx" && ticket["title"] == "产品咨询" && ticket["content"] == "详细内容...")
            #expect(ticket["priority"] == "high" && ticket["category"] == "产品" && ticket["update_time"]?.string != nil)

            let sync = try Self.payload(#"{"ticket_id": "xxx", "status""#)
            let synced = try await client.call(.put, "/api/v1/tickets/xxx", key: key, body: sync)
            #expect(synced.status == .ok, "\(synced.json)")
            #expect(synced["status"] == "processing" && synced["handler"] == "agent_id" && synced["update_time"] == "2023-10-26 12:00:00")
            let bulk = try await client.call(.post, "/api/v1/tickets/sync", key: key, body: sync)
            #expect(bulk.status == .ok && bulk["results"]?.array.first?["outcome"] == "applied", "\(bulk.json)")
            let many = try await client.call(.post, "/api/v1/tickets/sync", key: key, body: "[\(sync),\(sync)]")
            #expect(many["results"]?.array.map { $0["outcome"] } == ["applied", "applied"], "\(many.json)")

            // The events carry the same times in the same form.
            let events = try await client.call(.get, "/api/v1/events?limit=200", key: key)["data"]?.array ?? []
            #expect(events.first { $0["event"] == "order.linked" }?["data"]?["create_time"] == "2023-10-26 12:00:00")
            #expect(events.first { $0["event"] == "ticket.status_changed" }?["data"]?["update_time"] == "2023-10-26 12:00:00")
        }
    }

    /// Wall-clock times are read and written in the tenant's zone; RFC 3339 and Unix seconds are instants.
    @Test func timesAreReadAndWrittenInTheTenantsZone() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let key = server.tenantA.key
            #expect(try await client.call(.get, "/api/v1/settings", key: key)["time_zone"] == "UTC")
            let zone = try await client.call(.put, "/api/v1/settings", key: key, json: ["time_zone": "Asia/Shanghai"])
            #expect(zone.status == .ok && zone["time_zone"] == "Asia/Shanghai", "\(zone.json)")
            let unknown = try await client.call(.put, "/api/v1/settings", key: key, json: ["time_zone": "Mars/Olympus"])
            #expect(unknown.status == .unprocessableContent && unknown["field"] == "time_zone")
            _ = try await client.call(.post, "/api/v1/customers", key: key, json: ["customer_id": "C-1"])
            for (id, given, shown) in [
                ("O-1", JSONValue.string("2023-10-26 12:00:00"), "2023-10-26 12:00:00"), ("O-2", "2023-10-26T04:00:00Z", "2023-10-26 12:00:00"),
                ("O-3", "2023-10-26T12:00:00.250+08:00", "2023-10-26 12:00:00"), ("O-4", 1_698_292_800, "2023-10-26 12:00:00"),
            ] {
                let order = try await client.call(
                    .post, "/api/v1/orders", key: key, json: ["order_id": .string(id), "customer_id": "C-1", "amount": 1, "status": "paid", "create_time": given]
                )
                #expect(order.status == .created && order["create_time"]?.string == shown, "\(given): \(order.json)")
            }
            // The zone changes how stored times are shown, not when they were.
            _ = try await client.call(.put, "/api/v1/settings", key: key, json: ["time_zone": "UTC"])
            #expect(try await client.call(.get, "/api/v1/orders/O-1", key: key)["create_time"] == "2023-10-26 04:00:00")
            // Tenant B keeps its own zone.
            _ = try await client.call(.post, "/api/v1/customers", key: server.tenantB.key, json: ["customer_id": "C-1"])
            let other = try await client.call(
                .post, "/api/v1/orders", key: server.tenantB.key,
                json: ["order_id": "O-1", "customer_id": "C-1", "amount": 1, "status": "paid", "create_time": "2023-10-26 12:00:00"]
            )
            #expect(other["create_time"] == "2023-10-26 12:00:00")
            // An older status sync does not undo a newer one.
            _ = try await client.call(.post, "/api/v1/tickets", key: key, json: ["ticket_id": "T-1", "title": "t", "content": "c"])
            let newer = try await client.call(.put, "/api/v1/tickets/T-1", key: key, json: ["status": "resolved", "update_time": "2023-10-26 13:00:00"])
            #expect(newer["status"] == "resolved")
            let older = try await client.call(.post, "/api/v1/tickets/sync", key: key, json: [["ticket_id": "T-1", "status": "processing", "update_time": "2023-10-26 12:00:00"]])
            #expect(older["results"]?.array.first?["outcome"] == "stale" && older["results"]?.array.first?["ticket"]?["status"] == "resolved", "\(older.json)")
            let mismatch = try await client.call(.put, "/api/v1/tickets/T-1", key: key, json: ["ticket_id": "T-2", "status": "open"])
            #expect(mismatch.status == .unprocessableContent && mismatch["field"] == "ticket_id")
            let missing = try await client.call(.post, "/api/v1/tickets/sync", key: key, json: [["ticket_id": "T-9", "status": "open"]])
            #expect(missing["results"]?.array.first?["outcome"] == "not_found")
        }
    }

    /// The sync's ordering holds against a late older sync after an unchanged newer one, against a date
    /// far ahead, and against agents choosing ids; an upsert keeps what it does not name.
    @Test func syncsKeepTheirOrderAndOnlyTheWholeTenantSyncs() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let key = server.tenantA.key
            func sync(_ status: String, _ time: String) async throws -> APIResponse {
                try await client.call(.post, "/api/v1/tickets/sync", key: key, json: ["ticket_id": "T-1", "status": .string(status), "update_time": .string(time)])
            }
            let created = try await client.call(.post, "/api/v1/tickets", key: key, json: ["ticket_id": "T-1", "title": "t", "content": "c", "priority": "urgent"])
            #expect(created["external"]?["system"] == "api", "held by the system that chose its id: \(created.json)")
            #expect(try await sync("closed", "2023-10-26 12:00:10")["results"]?.array.first?["outcome"] == "applied")
            #expect(try await sync("closed", "2023-10-26 12:00:20")["results"]?.array.first?["outcome"] == "applied", "unchanged, yet the last one")
            let late = try await sync("processing", "2023-10-26 12:00:15")
            #expect(late["results"]?.array.first?["outcome"] == "stale" && late["results"]?.array.first?["ticket"]?["status"] == "closed", "\(late.json)")
            let ahead = try await sync("open", "2099-12-31 23:59:59")
            #expect(ahead["results"]?.array.first?["outcome"] == "invalid" && ahead["results"]?.array.first?["error"]?["field"] == "update_time", "\(ahead.json)")
            let put = try await client.call(.put, "/api/v1/tickets/T-1", key: key, json: ["status": "open", "update_time": "2099-12-31 23:59:59"])
            #expect(put.status == .unprocessableContent && put["field"] == "update_time")
            // Sent again without a priority, the ticket keeps its own.
            let again = try await client.call(.post, "/api/v1/tickets", key: key, json: ["ticket_id": "T-1", "title": "t2", "content": "c"])
            #expect(again.status == .ok && again["priority"] == "urgent" && again["title"] == "t2", "\(again.json)")
            let reserved = try await client.call(.post, "/api/v1/tickets", key: key, json: ["ticket_id": "sync", "title": "t", "content": "c"])
            #expect(reserved.status == .unprocessableContent && reserved["field"] == "ticket_id")
            // An agent sees its conversation's tickets but neither chooses ids nor syncs.
            let fixtures = Fixtures(client: client, key: key)
            let conversation = try await fixtures.conversation()
            let secret = try #require(
                try await client.call(.post, "/api/v1/token-issuers", key: key, json: ["issuer": "https://desk.example", "audience": "support", "kind": "hs256"])["secret"]?.string
            )
            let mint = """
                import sys, time, jwt
                print(jwt.encode({"iss": "https://desk.example", "aud": "support", "sub": sys.argv[2], "role": "agent", "exp": int(time.time()) + 300}, sys.argv[1], algorithm="HS256"))
                """
            let agent = try await PythonScript.run(mint, [secret, conversation.agent]).output.trimmingCharacters(in: .whitespacesAndNewlines)
            let own = try await client.call(.post, "/api/v1/tickets", key: agent, json: ["title": "t", "content": "c", "conversation_id": .string(conversation.id)])
            #expect(own.status == .created, "an agent opens tickets in its conversation: \(own.json)")
            let squat = try await client.call(
                .post, "/api/v1/tickets", key: agent, json: ["ticket_id": "JIRA-1", "title": "t", "content": "c", "conversation_id": .string(conversation.id)]
            )
            #expect(squat.status == .forbidden && squat["code"] == "ticket_sync_not_allowed", "\(squat.json)")
            let agentSync = try await client.call(.post, "/api/v1/tickets/sync", key: agent, json: ["ticket_id": .string(try own.string("ticket_id")), "status": "closed"])
            #expect(agentSync.status == .forbidden, "\(agentSync.json)")
            let dated = try await client.call(
                .put, "/api/v1/tickets/\(try own.string("ticket_id"))", key: agent, json: ["status": "open", "update_time": "2023-10-26 12:00:00"]
            )
            #expect(dated.status == .forbidden, "\(dated.json)")
            // A limit past the limiter's range is refused, not stored (it would trap the limiter).
            let huge = try await client.call(.put, "/api/v1/security", key: key, body: #"{"rate_limit": 9223372036854775807}"#)
            #expect(huge.status == .unprocessableContent && huge["field"] == "rate_limit", "\(huge.json)")
            let hugeKey = try await client.call(.post, "/api/v1/api-keys", key: key, body: #"{"name": "x", "scopes": ["admin"], "rate_limit": 9223372036854775807}"#)
            #expect(hugeKey.status == .unprocessableContent && hugeKey["field"] == "rate_limit", "\(hugeKey.json)")
        }
    }

    @Test func theStatisticsPushAndReportWorkAsWritten() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let key = server.tenantA.key
            let pushed = try await client.call(.post, "/api/v1/statistics/push", key: key, body: try Self.payload(#"{"type": "conversation","#))
            #expect(pushed.status.code / 100 == 2, "\(pushed.json)")
            let report = try await client.call(.get, try Self.requestLine("GET"), key: key)
            #expect(report.status == .ok, "\(report.json)")
            #expect(report["rows"]?.array.isEmpty == false && report["totals"]?["total"] == 100, "\(report.json)")
        }
    }

    @Test func theRESTRoutesOfTheSeedAnswerEveryMethodItNames() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let key = server.tenantA.key
            let fixtures = Fixtures(client: client, key: key)
            let agent = try await fixtures.agent()
            let conversation = try await fixtures.conversation()
            let message = try await fixtures.message(in: conversation.id, from: conversation.visitor).string("id")
            for (resource, id, change) in [
                ("agents", agent, #"{"name": "Renamed"}"#), ("conversations", conversation.id, #"{"subject": "Billing"}"#),
                ("messages", message, #"{"content": "edited"}"#),
            ] {
                #expect(try await client.call(.get, "/api/v1/\(resource)/\(id)", key: key).status == .ok, "GET \(resource)")
                let changed = try await client.call(.put, "/api/v1/\(resource)/\(id)", key: key, body: change)
                #expect(changed.status == .ok, "PUT \(resource): \(changed.json)")
                let deleted = try await client.call(.delete, "/api/v1/\(resource)/\(id)", key: key)
                #expect([.ok, .noContent].contains(deleted.status), "DELETE \(resource): \(deleted.json)")
            }
            let options = try await client.call(.patch, "/api/v1/agents/\(agent)", key: key, body: "{}")
            #expect(options.status == .methodNotAllowed && options.headers[.allow] == "GET, HEAD, PUT, DELETE", "\(options.headers)")
        }
    }

    @Test func socketFramesAndWebhookBodiesHaveTheSeedsFields() async throws {
        let server = try await TestServer.make {
            $0.webhooks.allowsHTTP = true
            $0.webhooks.allowsPrivateNetworks = true
        }
        let receiver = WebhookReceiver()
        try await receiver.run { url in
            try await server.run { client in
                let port = try #require(client.port)
                let key = server.tenantA.key
                let webhook = try await client.call(
                    .post, "/api/v1/webhooks", key: key,
                    json: ["url": .string(url), "events": ["conversation.created", "message.received", "agent.status_changed"]]
                )
                #expect(webhook.status == .created, "\(webhook.json)")
                let conversation = try await Fixtures(client: client, key: key).conversation()
                try await withSocket(port: port, query: "token=\(key)") { socket in
                    _ = try await socket.next(type: "ready")
                    // What the seed's JSON.stringify({type: 'ping'}) sends.
                    try await socket.outbound.write(.text(#"{"type":"ping"}"#))
                    #expect(try await socket.next()?["type"] == "pong")
                    // The seed's message frame, its two ids standing for the conversation's visitor and agent.
                    let frame = try Self.payload(#"{"type": "message""#)
                        .replacingOccurrences(of: #""user_id""#, with: "\"\(conversation.visitor)\"")
                        .replacingOccurrences(of: #""agent_id""#, with: "\"\(conversation.agent)\"")
                    try await socket.outbound.write(.text(frame))
                    var received: JSONValue?
                    var acknowledged = false
                    while received == nil || !acknowledged, let next = try await socket.next() {
                        if next["type"] == "ack" { acknowledged = true }
                        if next["type"] == "message" { received = next }
                        #expect(next["type"] != "error", "\(next)")
                    }
                    let data = try #require(received?["data"])
                    #expect(data["from"]?.string == conversation.visitor && data["to"]?.string == conversation.agent)
                    #expect(data["content"] == "消息内容" && data["timestamp"]?.int != nil)

                    _ = try await client.call(.put, "/api/v1/agents/\(conversation.agent)", key: key, json: ["status": "online"])
                    var statusChange: JSONValue?
                    while statusChange == nil, let next = try await socket.next(type: "event", limit: 50) {
                        if next["action"] == "status_change" { statusChange = next }
                    }
                    let change = try #require(statusChange)
                    #expect(change["data"]?["agent_id"]?.string == conversation.agent && change["data"]?["status"] == "online")
                    #expect(change["data"]?["timestamp"]?.int != nil)
                }
                try await eventually { Set(await receiver.received.compactMap { $0.json["event"]?.string }).count == 3 }
                let bodies = await receiver.received.map(\.json)
                func body(_ event: String) -> JSONValue? { bodies.first { $0["event"]?.string == event } }
                for (event, fields) in [
                    ("conversation.created", ["conversation_id", "visitor_id", "agent_id"]), ("message.received", ["message_id", "conversation_id", "content"]),
                    ("agent.status_changed", ["agent_id", "status"]),
                ] {
                    let found = try #require(body(event), "no \(event) webhook")
                    #expect(found["timestamp"]?.int != nil, "\(event): timestamp")
                    for field in fields { #expect(found["data"]?[field]?.string != nil, "\(event): data.\(field)") }
                }
            }
        }
    }
}
