import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import HummingbirdWSClient
import Logging
import NIOWebSocket
import SwitchboardCore
import SwitchboardServer
import SwitchboardTestSupport
import Testing

/// A connected WebSocket test client: reads JSON frames one at a time.
final class SocketReader: @unchecked Sendable {
    // @unchecked: a reader belongs to the one test task that runs the client's handler.
    var iterator: WebSocketInboundMessageStream.AsyncIterator
    let outbound: WebSocketOutboundWriter

    init(iterator: WebSocketInboundMessageStream.AsyncIterator, outbound: WebSocketOutboundWriter) {
        self.iterator = iterator
        self.outbound = outbound
    }

    /// The next JSON text frame, or nil when the connection closed.
    func next() async throws -> JSONValue? {
        while let message = try await iterator.next() {
            if case .text(let text) = message { return try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) }
        }
        return nil
    }

    /// The next frame of `type`, skipping others (at most `limit` of them).
    func next(type: String, limit: Int = 10_000) async throws -> JSONValue? {
        for _ in 0..<limit {
            guard let frame = try await next() else { return nil }
            if frame["type"]?.string == type { return frame }
        }
        return nil
    }

    func send(_ frame: JSONValue) async throws {
        try await outbound.write(.text(String(decoding: try JSONEncoder().encode(frame), as: UTF8.self)))
    }
}

/// Connects the hummingbird-websocket client and runs `body` with a reader; returns the close frame.
@discardableResult
func withSocket(
    port: Int,
    query: String,
    headers: HTTPFields = [:],
    _ body: @escaping @Sendable (SocketReader) async throws -> Void
) async throws -> WebSocketCloseFrame? {
    var configuration = WebSocketClientConfiguration(maxFrameSize: 1 << 20)
    configuration.additionalHeaders = headers
    return try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)/ws?\(query)", configuration: configuration, logger: testLogger) {
        inbound,
        outbound,
        _ in
        try await body(SocketReader(iterator: inbound.messages(maxSize: 1 << 22).makeAsyncIterator(), outbound: outbound))
    }
}

@Suite(.timeLimit(.minutes(5))) struct RealtimeTests {
    @Test func framesAreAnsweredMessagesAckedOnceAfterCommitAndRESTAndSocketSeeEachOther() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let port = try #require(client.port)
            let key = server.tenantA.key
            let fixtures = Fixtures(client: client, key: key)
            let conversation = try await fixtures.conversation()
            try await withSocket(port: port, query: "token=\(key)") { socket in
                #expect(try await socket.next(type: "ready")?["data"]?["seq"]?.int != nil)
                try await socket.send(["type": "ping"])
                #expect(try await socket.next()?["timestamp"]?.int != nil)

                let send: JSONValue = [
                    "type": "message", "action": "send", "id": "c-1", "conversation_id": .string(conversation.id),
                    "data": ["from": .string(conversation.visitor), "to": .string(conversation.agent), "content": "Hi from the socket", "timestamp": 1_795_000_000],
                ]
                try await socket.send(send)
                let ack = try #require(try await socket.next(type: "ack"))
                #expect(ack["id"]?.string == "c-1")
                let messageID = try #require(ack["data"]?["message_id"]?.string)
                let seq = try #require(ack["data"]?["seq"]?.int)
                // The same client id again: the original ack, not a second message.
                try await socket.send(send)
                let repeated = try #require(try await socket.next(type: "ack"))
                #expect(repeated["data"]?["message_id"]?.string == messageID && repeated["data"]?["seq"]?.int == seq)

                // A bad frame gets an error frame; the connection stays open.
                try await socket.outbound.write(.text("not json"))
                #expect(try await socket.next(type: "error")?["data"]?["code"]?.string == "invalid_frame")
                try await socket.send(["type": "message", "action": "send", "id": 7, "data": ["from": .string(conversation.visitor)]])
                let missing = try #require(try await socket.next(type: "error"))
                #expect(missing["id"]?.int == 7 && missing["data"]?["code"]?.string == "missing_field")
                // An admin key sees every conversation: the store refuses a missing one, as over REST.
                try await socket.send([
                    "type": "message", "action": "send", "id": 8, "conversation_id": "01900000-0000-7000-8000-000000000000",
                    "data": ["from": .string(conversation.visitor), "content": "nowhere"],
                ])
                let nowhere = try #require(try await socket.next(type: "error"))
                #expect(nowhere["id"]?.int == 8 && nowhere["data"]?["code"]?.string == "conversation_not_found")

                // REST → socket: the event frame carries the tenant seq.
                let posted = try await fixtures.message(in: conversation.id, from: conversation.agent, "Hello over REST")
                let received = try #require(try await socket.next(type: "message"))
                #expect(received["action"]?.string == "receive" && received["data"]?["content"]?.string == "Hello over REST")
                #expect(received["data"]?["message_id"] == posted["id"] && (received["seq"]?.int ?? 0) > seq)
            }
            // Socket → REST: the message is there, once.
            let messages = try await client.call(.get, "/api/v1/conversations/\(conversation.id)/messages", key: key)["data"]?.array ?? []
            #expect(messages.compactMap { $0["content"]?.string } == ["Hi from the socket", "Hello over REST"])
        }
    }

    @Test func aBurstOfSendsIsAckedInOrderEachOnce() async throws {
        let server = try await TestServer.make { $0.realtime.framesPerSecond = 1_000 }
        try await server.run { client in
            let port = try #require(client.port)
            let key = server.tenantA.key
            let conversation = try await Fixtures(client: client, key: key).conversation()
            try await withSocket(port: port, query: "token=\(key)") { socket in
                _ = try await socket.next(type: "ready")
                // Far more frames than the connection runs at once: it stops reading, then resumes.
                for index in 0..<100 {
                    try await socket.send([
                        "type": "message", "action": "send", "id": .string("b-\(index)"), "conversation_id": .string(conversation.id),
                        "data": ["from": .string(conversation.visitor), "content": .string("burst \(index)")],
                    ])
                }
                var acked: [String] = []
                while acked.count < 100, let ack = try await socket.next(type: "ack") {
                    acked.append(ack["id"]?.string ?? "")
                }
                #expect(acked == (0..<100).map { "b-\($0)" })
            }
            let stored = try await client.call(.get, "/api/v1/conversations/\(conversation.id)/messages?limit=200", key: key)["data"]?.array ?? []
            #expect(stored.compactMap { $0["content"]?.string } == (0..<100).map { "burst \($0)" })
        }
    }

    @Test func aMessageSentOverTheSocketReachesAWebhookAsItsEvent() async throws {
        let server = try await WebhookRoutesTests.server()
        let receiver = WebhookReceiver()
        try await receiver.run { url in
            try await server.run { client in
                let port = try #require(client.port)
                let key = server.tenantA.key
                let conversation = try await Fixtures(client: client, key: key).conversation()
                _ = try await client.call(.post, "/api/v1/webhooks", key: key, json: ["url": .string(url), "events": ["message.received"]])
                try await withSocket(port: port, query: "token=\(key)") { socket in
                    _ = try await socket.next(type: "ready")
                    try await socket.send([
                        "type": "message", "action": "send", "id": "w-1", "conversation_id": .string(conversation.id),
                        "data": ["from": .string(conversation.visitor), "content": "To the webhook"],
                    ])
                    let messageID = try #require(try await socket.next(type: "ack")?["data"]?["message_id"]?.string)
                    try await eventually { await receiver.received.contains { $0.json["data"]?["message_id"]?.string == messageID } }
                    let delivered = try #require(await receiver.received.first { $0.json["data"]?["message_id"]?.string == messageID })
                    #expect(delivered.json["event"]?.string == "message.received" && delivered.json["data"]?["content"]?.string == "To the webhook")
                }
            }
        }
    }

    @Test func protocolPingsKeepAConnectionAliveFragmentsAreJoinedAndAClientCloseIsAnswered() async throws {
        let server = try await TestServer.make { $0.realtime.idleTimeoutSeconds = 1 }
        try await server.run { client in
            let port = try #require(client.port)
            // The websockets package: protocol pings for 2.5 s (past the 1 s idle limit), a JSON frame
            // sent in three fragments, then a close that the server answers with the same code.
            let script = """
                import sys, json, asyncio, websockets
                async def main(port, key):
                    async with websockets.connect("ws://127.0.0.1:%s/ws?token=%s" % (port, key), ping_interval=None) as socket:
                        assert json.loads(await socket.recv())["type"] == "ready"
                        pongs = 0
                        for _ in range(10):
                            await asyncio.wait_for(await socket.ping(b"hb"), 5)
                            pongs += 1
                            await asyncio.sleep(0.25)
                        await socket.send(['{"type":', '"ping",', '"id":"f"}'])
                        joined = json.loads(await asyncio.wait_for(socket.recv(), 5))
                        await socket.close(code=4100, reason="done")
                        print(json.dumps({"pongs": pongs, "joined": joined["type"], "answer": socket.close_code}))
                asyncio.run(main(sys.argv[1], sys.argv[2]))
                """
            let outcome = try await PythonScript.run(script, [String(port), server.tenantA.key])
            #expect(outcome.status == 0, "\(outcome)")
            let result = try JSONDecoder().decode(JSONValue.self, from: Data(outcome.output.utf8))
            #expect(result["pongs"] == 10, "protocol pings are answered and count as activity")
            #expect(result["joined"] == "pong")
            #expect(result["answer"] == 4100)
        }
    }

    @Test func badTokensGet401WithoutUpgradeAndPlainRequests426() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let port = try #require(client.port)
            // The Python websockets package: a client that is not ours.
            let script = """
                import sys, json, asyncio, websockets
                from websockets.exceptions import InvalidStatus
                async def main(port, key):
                    results = {}
                    for name, query in (("bad", "token=sb_live_nope"), ("none", ""), ("good", "token=" + key)):
                        try:
                            async with websockets.connect("ws://127.0.0.1:%s/ws?%s" % (port, query)) as socket:
                                await socket.send(json.dumps({"type": "ping"}))
                                frames = [json.loads(await socket.recv()) for _ in range(2)]
                                results[name] = [frame["type"] for frame in frames]
                        except InvalidStatus as error:
                            body = json.loads(error.response.body)
                            results[name] = [error.response.status_code, error.response.headers.get("Content-Type"), body["code"]]
                    print(json.dumps(results))
                asyncio.run(main(sys.argv[1], sys.argv[2]))
                """
            let outcome = try await PythonScript.run(script, [String(port), server.tenantA.key])
            #expect(outcome.status == 0, "\(outcome)")
            let results = try JSONDecoder().decode(JSONValue.self, from: Data(outcome.output.utf8))
            #expect(results["bad"] == [401, "application/problem+json", "unauthenticated"])
            #expect(results["none"] == [401, "application/problem+json", "unauthenticated"])
            #expect(results["good"] == ["ready", "pong"])

            let plain = try await client.call(.get, "/ws", key: server.tenantA.key)
            #expect(plain.status == .upgradeRequired && plain["code"]?.string == "upgrade_required")
            // A refused upgrade is audited once, not once per router.
            let failures = try await SecurityTests.audit(client, admin: server.tenantA.key, action: "auth.failed", count: 0)
            #expect(failures.isEmpty, "unknown keys name no tenant")
        }
    }

    @Test func visitorsAndOtherTenantsNeverSeeEventsOutsideTheirView() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let port = try #require(client.port)
            let admin = server.tenantA.key
            let secret = try #require(
                try await client.call(.post, "/api/v1/token-issuers", key: admin, json: ["issuer": "https://shop.example", "audience": "support", "kind": "hs256", "default_role": "visitor"])["secret"]?.string
            )
            let fixtures = Fixtures(client: client, key: admin)
            let mine = try await fixtures.conversation()
            let theirs = try await fixtures.conversation()
            let externalID = "shop-\(UUID().uuidString)"
            // Give the first conversation's visitor an external id by creating it that way.
            let vera = try #require(try await client.call(.post, "/api/v1/visitors", key: admin, json: ["name": "Vera", "external_id": .string(externalID)])["id"]?.string)
            let veraConversation = try #require(
                try await client.call(.post, "/api/v1/conversations", key: admin, json: ["visitor_id": .string(vera), "agent_id": .string(mine.agent)])["id"]?.string
            )
            let mint = """
                import sys, time, jwt
                print(jwt.encode({"iss": "https://shop.example", "aud": "support", "sub": sys.argv[2], "exp": int(time.time()) + 300}, sys.argv[1], algorithm="HS256"))
                """
            let token = try await PythonScript.run(mint, [secret, externalID]).output.trimmingCharacters(in: .whitespacesAndNewlines)
            try await withSocket(port: port, query: "token=\(token)") { visitor in
                _ = try await visitor.next(type: "ready")
                try await withSocket(port: port, query: "token=\(server.tenantB.key)") { other in
                    _ = try await other.next(type: "ready")
                    _ = try await fixtures.message(in: theirs.id, from: theirs.visitor, "not for Vera")
                    _ = try await fixtures.message(in: mine.id, from: mine.visitor, "not for Vera either")
                    _ = try await fixtures.message(in: veraConversation, from: mine.agent, "for Vera")
                    let seen = try #require(try await visitor.next(type: "message"))
                    #expect(seen["data"]?["content"]?.string == "for Vera", "the first message Vera sees is hers")
                    // Tenant B's socket got nothing: its first frame is the pong to this ping.
                    try await other.send(["type": "ping"])
                    #expect(try await other.next()?["type"]?.string == "pong")
                }
                // A ticket for Vera's conversation and a customer record reach agents, not her: her next
                // frame after them is the next message.
                let agentToken = try await PythonScript.run(
                    """
                    import sys, time, jwt
                    print(jwt.encode({"iss": "https://shop.example", "aud": "support", "sub": sys.argv[2], "role": "agent",
                                      "exp": int(time.time()) + 300}, sys.argv[1], algorithm="HS256"))
                    """,
                    [secret, mine.agent]
                ).output.trimmingCharacters(in: .whitespacesAndNewlines)
                try await withSocket(port: port, query: "token=\(agentToken)") { agent in
                    _ = try await agent.next(type: "ready")
                    _ = try await client.call(.post, "/api/v1/tickets", key: admin, json: ["title": "Help", "content": "x", "conversation_id": .string(veraConversation)])
                    _ = try await client.call(.post, "/api/v1/customers", key: admin, json: ["customer_id": "C-9", "visitor_ids": [.string(vera)]])
                    _ = try await fixtures.message(in: veraConversation, from: mine.agent, "after the ticket")
                    #expect(try await agent.next(type: "event")?["action"]?.string == "ticket.created")
                    #expect(try await agent.next(type: "event")?["action"]?.string == "customer.synced")
                    #expect(try await visitor.next()?["data"]?["content"]?.string == "after the ticket")
                }
                // Vera may not send into a conversation that is not hers.
                try await visitor.send(["type": "message", "action": "send", "id": "x", "conversation_id": .string(theirs.id), "data": ["from": .string(vera), "content": "hi"]])
                #expect(try await visitor.next(type: "error")?["data"]?["code"]?.string == "conversation_not_found")
                // Nor send as someone else into her own.
                try await visitor.send([
                    "type": "message", "action": "send", "id": "z", "conversation_id": .string(veraConversation),
                    "data": ["from": .string(mine.agent), "content": "hi"],
                ])
                #expect(try await visitor.next(type: "error")?["data"]?["code"]?.string == "sender_not_principal")
                // Without conversation_id, her open conversation is found.
                try await visitor.send(["type": "message", "action": "send", "id": "y", "data": ["from": .string(vera), "content": "mine"]])
                #expect(try await visitor.next(type: "ack")?["data"]?["conversation_id"]?.string == veraConversation)
            }
        }
    }

    @Test func aClientThatMissed1000EventsResumesWithSinceAndGetsEachOnceInOrderThenLiveOnes() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let port = try #require(client.port)
            let key = server.tenantA.key
            let conversation = try await Fixtures(client: client, key: key).conversation()
            let since = try await server.store.lastSeq(tenant: server.tenantA.tenantID)
            // Produced while no socket is open; concurrent writers share group commits.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<10 {
                    group.addTask {
                        for index in 0..<100 {
                            let message = NewMessage(conversationID: conversation.id, from: conversation.visitor, content: "m\(writer)-\(index)")
                            _ = try await server.store.execute(.sendMessage(message), tenant: server.tenantA.tenantID, idempotency: nil)
                        }
                    }
                }
                try await group.waitForAll()
            }
            let last = try await server.store.lastSeq(tenant: server.tenantA.tenantID)
            #expect(last - since == 1_000)
            try await withSocket(port: port, query: "token=\(key)&since=\(since)") { socket in
                var seqs: [Int] = []
                while seqs.count < 1_000, let frame = try await socket.next() {
                    if let seq = frame["seq"]?.int { seqs.append(seq) }
                }
                #expect(seqs == Array(Int(since) + 1...Int(last)))
                #expect(try await socket.next(type: "ready")?["data"]?["seq"]?.int == Int(last))
                let live = try await Fixtures(client: client, key: key).message(in: conversation.id, from: conversation.agent, "live")
                let frame = try #require(try await socket.next(type: "message"))
                #expect(frame["seq"]?.int == Int(last) + 1 && frame["data"]?["message_id"] == live["id"])
            }
            // A seq older than the retained log asks the client to resync.
            _ = try await server.store.purgeAll(.events, olderThan: Date().addingTimeInterval(3_600))
            try await withSocket(port: port, query: "token=\(key)&since=0") { socket in
                let error = try await socket.next(type: "error")
                #expect(error?["data"]?["code"]?.string == "resync_required")
            }
        }
    }

    @Test func idleSlowTooChattyAndTooManyConnectionsAreClosedWithTheirCodes() async throws {
        let server = try await TestServer.make {
            $0.realtime.idleTimeoutSeconds = 1
            $0.realtime.sendQueueLimit = 16
            $0.realtime.framesPerSecond = 2
            $0.realtime.maxConnectionsPerPrincipal = 2
            $0.realtime.maxFrameBytes = 4_096
        }
        try await server.run { client in
            let port = try #require(client.port)
            let key = server.tenantA.key
            let idle = try await withSocket(port: port, query: "token=\(key)") { socket in
                while try await socket.next() != nil {}
            }
            #expect(idle?.closeCode == .init(codeNumber: 4000) && idle?.reason == "idle_timeout")

            let chatty = try await withSocket(port: port, query: "token=\(key)") { socket in
                for _ in 0..<10 { try? await socket.send(["type": "ping"]) }
                while try await socket.next() != nil {}
            }
            #expect(chatty?.closeCode == .init(codeNumber: 4002))

            let large = try await withSocket(port: port, query: "token=\(key)") { socket in
                try await socket.send(["type": "ping", "pad": .string(String(repeating: "x", count: 5_000))])
                while try await socket.next() != nil {}
            }
            #expect(large?.closeCode == .messageTooLarge)

            // Two sockets are allowed for this key; the third is closed at once.
            try await withSocket(port: port, query: "token=\(key)") { first in
                _ = try await first.next(type: "ready")
                try await withSocket(port: port, query: "token=\(key)") { second in
                    _ = try await second.next(type: "ready")
                    let third = try await withSocket(port: port, query: "token=\(key)") { socket in
                        while try await socket.next() != nil {}
                    }
                    #expect(third?.closeCode == .init(codeNumber: 4003))
                    try await second.send(["type": "ping"])
                }
                try await first.send(["type": "ping"])
            }

        }
    }

    // Back-pressure toward a socket does not touch the database; on PostgreSQL a debug build posts the
    // 200 messages of 60 KB so slowly that the stalled client's connection times out first.
    @Test(.disabled(if: TestBackend.current == .postgres, "back-pressure is the same on every database"))
    func aClientThatStopsReadingIsClosedAsASlowConsumer() async throws {
        let server = try await TestServer.make {
            $0.realtime.sendQueueLimit = 16
            // On a loaded machine the 200 posts can outlast the idle timeout of the socket that stopped
            // reading; then it, not the slow-consumer close, would end the connection.
            $0.realtime.idleTimeoutSeconds = 600
        }
        try await server.run { client in
            let port = try #require(client.port)
            let conversation = try await Fixtures(client: client, key: server.tenantA.key).conversation()
            // The websockets package with a one-message queue stops reading from the socket while the
            // script posts large messages over REST; then it drains and reports how the socket closed.
            let script = """
                import sys, json, asyncio, websockets, httpx
                async def main(port, key, conversation, visitor):
                    async with websockets.connect("ws://127.0.0.1:%s/ws?token=%s" % (port, key), max_queue=1, max_size=None) as socket:
                        assert json.loads(await socket.recv())["type"] == "ready"
                        async with httpx.AsyncClient() as rest:
                            for index in range(200):
                                body = {"conversation_id": conversation, "from": visitor, "content": str(index) + "y" * 60000}
                                answer = await rest.post("http://127.0.0.1:%s/api/v1/messages" % port, json=body, headers={"Authorization": "Bearer " + key})
                                assert answer.status_code == 201, answer.text
                        received = 0
                        try:
                            while True:
                                await socket.recv()
                                received += 1
                        except websockets.ConnectionClosed as closed:
                            print(json.dumps({"code": closed.rcvd.code if closed.rcvd else None, "reason": closed.rcvd.reason if closed.rcvd else None, "received": received}))
                asyncio.run(main(*sys.argv[1:5]))
                """
            let outcome = try await PythonScript.run(script, [String(port), server.tenantA.key, conversation.id, conversation.visitor])
            #expect(outcome.status == 0, "\(outcome)")
            let result = try JSONDecoder().decode(JSONValue.self, from: Data(outcome.output.utf8))
            #expect(result["code"] == 4001 && result["reason"] == "slow_consumer: reconnect with since=", "\(outcome)")
            #expect((result["received"]?.int ?? 200) < 200, "frames beyond the queue were not kept for it")
        }
    }

    @Test func agentsSetTheirStatusOverTheSocketAndGoOfflineAfterTheGracePeriod() async throws {
        let server = try await TestServer.make { $0.realtime.presenceGraceSeconds = 0 }
        try await server.run { client in
            let port = try #require(client.port)
            let admin = server.tenantA.key
            let agent = try await Fixtures(client: client, key: admin).agent("Ada")
            let secret = try #require(
                try await client.call(.post, "/api/v1/token-issuers", key: admin, json: ["issuer": "https://desk.example", "audience": "support", "kind": "hs256"])["secret"]?.string
            )
            let mint = """
                import sys, time, jwt
                print(jwt.encode({"iss": "https://desk.example", "aud": "support", "sub": sys.argv[2], "role": "agent", "exp": int(time.time()) + 300}, sys.argv[1], algorithm="HS256"))
                """
            let token = try await PythonScript.run(mint, [secret, agent]).output.trimmingCharacters(in: .whitespacesAndNewlines)
            try await withSocket(port: port, query: "", headers: [.authorization: "Bearer \(token)"]) { socket in
                _ = try await socket.next(type: "ready")
                try await socket.send(["type": "presence", "id": "p1", "data": ["status": "online"]])
                // The ack and the events (agent.updated, then status_change) race: take the ack and the change.
                var ack: JSONValue?
                var change: JSONValue?
                while ack == nil || change == nil, let frame = try await socket.next() {
                    if frame["type"]?.string == "ack" { ack = frame }
                    if frame["action"]?.string == "status_change" { change = frame }
                }
                #expect(ack?["data"]?["status"]?.string == "online")
                let changed = try #require(change)
                #expect(changed["type"]?.string == "event" && changed["data"]?["status"]?.string == "online" && changed["seq"]?.int != nil)
            }
            try await eventually {
                try await client.call(.get, "/api/v1/agents/\(agent)", key: admin)["status"]?.string == "offline"
            }
        }
    }
}
