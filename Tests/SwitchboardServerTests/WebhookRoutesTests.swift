import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import SwitchboardCore
import SwitchboardServer
import SwitchboardTestSupport
import Testing

/// A webhook receiver on a loopback port: records every request and answers from a script.
actor WebhookReceiver {
    struct Received: Sendable {
        let id: String
        let timestamp: Int64
        let signature: String
        let body: [UInt8]
        let at: ContinuousClock.Instant
        var json: JSONValue { (try? JSONDecoder().decode(JSONValue.self, from: Data(body))) ?? .null }
    }

    /// What to answer: a status, optional headers, and an optional stall before answering; with
    /// `untilInFlight`, the stall ends early once that many requests have been open at once.
    struct Answer: Sendable {
        var status: HTTPResponse.Status = .ok
        var headers: HTTPFields = [:]
        var stall: Duration = .zero
        var untilInFlight: Int?
    }

    private(set) var received: [Received] = []
    private var script: [Answer] = []
    private var inFlight = 0
    /// The most requests the receiver had open at once.
    private(set) var mostInFlight = 0

    func finished() { inFlight -= 1 }

    /// Waits out an answer's stall, or until `untilInFlight` requests have been open at once (polled every 5 ms).
    func stall(for answer: Answer) async throws {
        let deadline = ContinuousClock.now + answer.stall
        while ContinuousClock.now < deadline {
            if let wanted = answer.untilInFlight, mostInFlight >= wanted { return }
            try await Task.sleep(for: answer.untilInFlight == nil ? answer.stall : .milliseconds(5))
        }
    }

    /// Answers the next requests with `answers`, then 200.
    func answer(_ answers: [Answer]) { script = answers }

    func record(_ request: Received) -> Answer {
        received.append(request)
        inFlight += 1
        mostInFlight = max(mostInFlight, inFlight)
        return script.isEmpty ? Answer() : script.removeFirst()
    }

    /// Runs a receiver for the length of `body`, which gets its base URL.
    func run(_ body: @escaping @Sendable (String) async throws -> Void) async throws {
        let router = Router()
        router.post("/hook") { request, context -> Response in
            let bytes = try await request.body.collect(upTo: 1 << 20)
            let received = Received(
                id: request.headers[HTTPField.Name("webhook-id")!] ?? "",
                timestamp: Int64(request.headers[HTTPField.Name("webhook-timestamp")!] ?? "") ?? 0,
                signature: request.headers[HTTPField.Name("webhook-signature")!] ?? "",
                body: Array(buffer: bytes),
                at: .now
            )
            let answer = await self.record(received)
            try await self.stall(for: answer)
            await self.finished()
            return Response(status: answer.status, headers: answer.headers)
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: testLogger)
        try await app.test(.live) { client in
            try await body("http://127.0.0.1:\(client.port!)/hook")
        }
    }
}

@Suite(.timeLimit(.minutes(5))) struct WebhookRoutesTests {
    static func server(_ configure: (inout SwitchboardConfiguration) throws -> Void = { _ in }) async throws -> TestServer {
        try await TestServer.make { configuration in
            configuration.webhooks.allowsPrivateNetworks = true
            configuration.webhooks.allowsHTTP = true
            configuration.webhooks.retrySchedule = [.milliseconds(40), .milliseconds(40), .milliseconds(40), .milliseconds(40)]
            try configure(&configuration)
        }
    }

    @Test func eventsArriveSignedInTheSeedShapeAndVerify() async throws {
        let server = try await Self.server()
        let receiver = WebhookReceiver()
        try await receiver.run { url in
            try await server.run { client in
                let key = server.tenantA.key
                let created = try await client.call(.post, "/api/v1/webhooks", key: key, json: ["url": .string(url), "events": .array(["agent.*"])])
                #expect(created.status == .created)
                let secret = try #require(created["secret"]?.string)
                #expect(secret.hasPrefix("whsec_"))
                #expect(try await client.call(.get, "/api/v1/webhooks/\(created.string("id"))", key: key)["secret"] == nil)
                let agent = try await Fixtures(client: client, key: key).agent("Ada")
                _ = try await Fixtures(client: client, key: key).visitor()
                try await eventually { await receiver.received.count == 1 }
                let call = await receiver.received[0]
                #expect(WebhookSignature.verify(header: call.signature, id: call.id, timestamp: call.timestamp, body: call.body, secret: secret))
                #expect(try Self.referenceLibraryVerifies(call, secret: secret))
                #expect(try !Self.referenceLibraryVerifies(call, secret: WebhookSignature.makeSecret()))
                #expect(call.id.hasPrefix("msg_"))
                #expect(call.json["event"]?.string == "agent.created")
                #expect(call.json["data"]?["agent_id"]?.string == agent)
                #expect(call.json["tenant_id"]?.string == server.tenantA.tenantID)
                #expect(call.json["seq"] == 1)
                #expect(call.json["timestamp"]?.int != nil && call.json["version"] == 1 && call.json["id"]?.string != nil)
            }
        }
    }

    /// Whether the Python `standardwebhooks` package (the specification's reference library) accepts a call.
    static func referenceLibraryVerifies(_ call: WebhookReceiver.Received, secret: String) throws -> Bool {
        let body = FileManager.default.temporaryDirectory.appendingPathComponent("webhook-\(UUID().uuidString).json")
        try Data(call.body).write(to: body)
        defer { try? FileManager.default.removeItem(at: body) }
        let python = SpawnedProcess()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = [
            "python3", "-c",
            """
            import sys
            from standardwebhooks.webhooks import Webhook
            headers = {"webhook-id": sys.argv[2], "webhook-timestamp": sys.argv[3], "webhook-signature": sys.argv[4]}
            try:
                Webhook(sys.argv[1]).verify(open(sys.argv[5], "rb").read(), headers)
            except Exception as error:
                print(error)
                sys.exit(1)
            """,
            secret, call.id, String(call.timestamp), call.signature, body.path,
        ]
        try python.run()
        python.waitUntilExit()
        return python.terminationStatus == 0
    }

    @Test func aFailingReceiverGetsRetriesWithTheSameIDUntilItAccepts() async throws {
        let server = try await Self.server()
        let receiver = WebhookReceiver()
        await receiver.answer([.init(status: .internalServerError), .init(status: .serviceUnavailable), .init(status: .requestTimeout)])
        try await receiver.run { url in
            try await server.run { client in
                let key = server.tenantA.key
                let webhook = try await client.call(.post, "/api/v1/webhooks", key: key, json: ["url": .string(url), "events": .array(["*"])]).string("id")
                _ = try await Fixtures(client: client, key: key).agent()
                try await eventually { await receiver.received.count == 4 }
                #expect(Set(await receiver.received.map(\.id)).count == 1)
                let log = try await client.call(.get, "/api/v1/webhooks/\(webhook)/deliveries", key: key)
                try await eventually {
                    try await client.call(.get, "/api/v1/webhooks/\(webhook)/deliveries", key: key)["data"]?.array.first?["status"]?.string == "succeeded"
                }
                let delivery = try await client.call(.get, "/api/v1/webhooks/\(webhook)/deliveries", key: key)["data"]!.array[0]
                #expect(delivery["attempts"]!.array.compactMap { $0["status_code"]?.int } == [500, 503, 408, 200])
                #expect(log.status == .ok)
            }
        }
    }

    @Test func aStallingReceiverHitsTheTimeoutAndA429RetryAfterIsHonoured() async throws {
        let server = try await Self.server()
        let receiver = WebhookReceiver()
        // A timeout of 2 s, not less: on a loaded machine (the whole suite on two cores) a 300 ms one, and
        // at times a 1 s one, also cut off the 429 answer.
        await receiver.answer([.init(stall: .seconds(6)), .init(status: .tooManyRequests, headers: [.retryAfter: "1"])])
        try await receiver.run { url in
            try await server.run { client in
                let key = server.tenantA.key
                let webhook = try await client.call(
                    .post,
                    "/api/v1/webhooks",
                    key: key,
                    json: ["url": .string(url), "events": .array(["*"]), "timeout_ms": 2_000]
                ).string("id")
                _ = try await Fixtures(client: client, key: key).agent()
                try await eventually { await receiver.received.count == 3 }
                let calls = await receiver.received
                #expect(calls[2].at - calls[1].at >= .seconds(1))
                try await eventually {
                    try await client.call(.get, "/api/v1/webhooks/\(webhook)/deliveries", key: key)["data"]?.array.first?["status"]?.string == "succeeded"
                }
                let attempts = try await client.call(.get, "/api/v1/webhooks/\(webhook)/deliveries", key: key)["data"]!.array[0]["attempts"]!.array
                #expect(attempts[0]["error"]?.string?.contains("timed out") == true)
                // Cut off by the timeout, before the receiver's 6 s stall ended (a loaded machine adds to the 2 s).
                #expect(attempts[0]["latency_ms"]!.int! < 6_000)
                #expect(attempts[1]["status_code"] == 429)
            }
        }
    }

    @Test func deadDeliveriesCanBeRedeliveredAndEventsReplayed() async throws {
        let server = try await Self.server { $0.webhooks.retrySchedule = [.milliseconds(20)] }
        let receiver = WebhookReceiver()
        await receiver.answer([.init(status: .badGateway), .init(status: .badGateway)])
        try await receiver.run { url in
            try await server.run { client in
                let key = server.tenantA.key
                let webhook = try await client.call(.post, "/api/v1/webhooks", key: key, json: ["url": .string(url), "events": .array(["agent.created"])]).string("id")
                let fixtures = Fixtures(client: client, key: key)
                _ = try await fixtures.agent()
                let deliveries = "/api/v1/webhooks/\(webhook)/deliveries"
                try await eventually { try await client.call(.get, deliveries, key: key)["data"]?.array.first?["status"]?.string == "dead" }
                let dead = try await client.call(.get, deliveries, key: key)["data"]!.array[0]["id"]!.string!
                #expect(try await client.call(.post, "\(deliveries)/\(dead)/redeliver", key: key).status == .accepted)
                try await eventually { try await client.call(.get, deliveries, key: key)["data"]?.array.first?["status"]?.string == "succeeded" }
                #expect(Set(await receiver.received.map(\.id)) == [dead])

                _ = try await fixtures.agent()
                try await eventually { await receiver.received.count == 4 }
                let replay = try await client.call(.post, "/api/v1/webhooks/\(webhook)/replay", key: key, json: ["since_seq": 0])
                #expect(replay["queued"] == 2)
                try await eventually { await receiver.received.count == 6 }
                let seqs = await receiver.received.suffix(2).compactMap { $0.json["seq"]?.int }
                #expect(seqs == [1, 2])
                #expect(try await client.call(.post, "\(deliveries)/msg_nope/redeliver", key: key).status == .notFound)
            }
        }
    }

    @Test func theBreakerPausesAFailingEndpointAndItIsDisabledInTheEnd() async throws {
        let server = try await Self.server { configuration in
            configuration.webhooks.retrySchedule = Array(repeating: .milliseconds(10), count: 50)
            configuration.webhooks.breakerThreshold = 2
            configuration.webhooks.breakerCooldown = .milliseconds(300)
            // Three seconds, not one: in a full parallel test run on two cores (on PostgreSQL, with a release
            // build beside it) the third attempt, due 300 ms after the second, came more than a second, and
            // once more than two, late, and the endpoint was disabled after two calls.
            configuration.webhooks.disableAfter = .seconds(3)
        }
        let receiver = WebhookReceiver()
        await receiver.answer(Array(repeating: .init(status: .internalServerError), count: 100))
        try await receiver.run { url in
            try await server.run { client in
                let key = server.tenantA.key
                let webhook = try await client.call(.post, "/api/v1/webhooks", key: key, json: ["url": .string(url), "events": .array(["*"])]).string("id")
                _ = try await Fixtures(client: client, key: key).agent()
                var seen: JSONValue = .null
                try await eventually(limit: .seconds(30)) {
                    seen = try await client.call(.get, "/api/v1/webhooks/\(webhook)", key: key).json
                    return seen["breaker"]?["state"]?.string == "open" || seen["enabled"] == .bool(false)
                }
                try await eventually(limit: .seconds(30)) {
                    seen = try await client.call(.get, "/api/v1/webhooks/\(webhook)", key: key).json
                    return seen["enabled"] == .bool(false)
                }
                let count = await receiver.received.count
                #expect(seen["enabled"] == .bool(false), "last seen: \(seen); \(count) calls")
                let calls = await receiver.received
                try #require(calls.count >= 3, "\(calls.count) calls before the endpoint was disabled")
                #expect(calls[2].at - calls[1].at >= .milliseconds(250), "the breaker opened after two failures")
                let disabled = try await client.call(.get, "/api/v1/webhooks/\(webhook)", key: key)
                #expect(disabled["disabled_reason"]?.string?.contains("every attempt failed") == true)
                let audited = try await SecurityTests.audit(client, admin: key, action: "webhook.auto_disabled")
                #expect(audited.first?["target"]?.string == "webhook:\(webhook)" && audited.first?["actor"]?.string == "system")
                // With a breaker opening after 2 failures for 300 ms, three seconds hold only a few attempts
                // (about eleven), where retries every 10 ms would make fifty.
                let attempts = await receiver.received.count
                #expect(attempts >= 3 && attempts <= 20, "\(attempts) attempts")
                let enabled = try await client.call(.put, "/api/v1/webhooks/\(webhook)", key: key, json: ["enabled": .bool(true)])
                #expect(enabled["disabled_reason"] == .null)
            }
        }
    }

    @Test func anEndpointThatAllowsSeveralInFlightGetsThemConcurrently() async throws {
        let server = try await Self.server()
        let receiver = WebhookReceiver()
        // The first request is held until a second one is open (or 10 s): a sequential dispatcher
        // fails whatever the pace at which the events come.
        await receiver.answer([.init(stall: .seconds(10), untilInFlight: 2)])
        try await receiver.run { url in
            try await server.run { client in
                let key = server.tenantA.key
                let created = try await client.call(
                    .post,
                    "/api/v1/webhooks",
                    key: key,
                    json: ["url": .string(url), "events": .array(["agent.created"]), "max_in_flight": 8]
                )
                #expect(created["max_in_flight"] == 8)
                let fixtures = Fixtures(client: client, key: key)
                for _ in 0..<8 { _ = try await fixtures.agent() }
                try await eventually { await receiver.received.count == 8 }
                #expect(await receiver.mostInFlight > 1)
                #expect(Set(await receiver.received.compactMap { $0.json["seq"]?.int }) == Set(1...8))
            }
        }
    }

    @Test func theServerWideBoundCapsRequestsInFlight() async throws {
        let server = try await Self.server { $0.webhooks.maxConcurrentDeliveries = 2 }
        let receiver = WebhookReceiver()
        // The first two requests are held for 3 s unless a third opens beside them, which the bound forbids.
        await receiver.answer(Array(repeating: .init(stall: .seconds(3), untilInFlight: 3), count: 2))
        try await receiver.run { url in
            try await server.run { client in
                let key = server.tenantA.key
                for _ in 0..<2 {
                    _ = try await client.call(.post, "/api/v1/webhooks", key: key, json: ["url": .string(url), "events": .array(["*"]), "max_in_flight": 8])
                }
                let fixtures = Fixtures(client: client, key: key)
                for _ in 0..<3 { _ = try await fixtures.agent() }
                try await eventually { await receiver.received.count == 6 }
                #expect(await receiver.mostInFlight == 2)
            }
        }
    }

    @Test func urlsThatReachPrivateNetworksAreRefused() async throws {
        let server = try await TestServer.make { $0.webhooks.allowsHTTP = true }
        try await server.run { client in
            for url in ["http://127.0.0.1:9/hook", "http://169.254.169.254/latest", "http://10.0.0.1/", "http://[::1]:8080/", "http://localhost:9/"] {
                let refused = try await client.call(.post, "/api/v1/webhooks", key: server.tenantA.key, json: ["url": .string(url), "events": .array(["*"])])
                #expect(refused.status == .unprocessableContent, "\(url)")
                #expect(refused["code"]?.string == "url_not_allowed", "\(url)")
                #expect(refused["field"]?.string == "url")
            }
        }
        let httpsOnly = try await TestServer.make()
        try await httpsOnly.run { client in
            let plain = try await client.call(.post, "/api/v1/webhooks", key: httpsOnly.tenantA.key, json: ["url": "http://example.com/", "events": .array(["*"])])
            #expect(plain["field"]?.string == "url")
            let noEvents = try await client.call(.post, "/api/v1/webhooks", key: httpsOnly.tenantA.key, json: ["url": "https://example.com/", "events": .array([])])
            #expect(noEvents["field"]?.string == "events")
        }
    }

    @Test func aRotatedSecretSignsBesideTheNewOneAndPingsArrive() async throws {
        let server = try await Self.server()
        let receiver = WebhookReceiver()
        try await receiver.run { url in
            try await server.run { client in
                let key = server.tenantA.key
                let created = try await client.call(.post, "/api/v1/webhooks", key: key, json: ["url": .string(url), "events": .array(["*"])])
                let webhook = try created.string("id")
                let old = try created.string("secret")
                let rotated = try await client.call(.post, "/api/v1/webhooks/\(webhook)/rotate-secret", key: key)
                let new = try #require(rotated["secret"]?.string)
                #expect(try await client.call(.post, "/api/v1/webhooks/\(webhook)/test", key: key).status == .accepted)
                try await eventually { await receiver.received.count == 1 }
                let ping = await receiver.received[0]
                #expect(ping.json["event"]?.string == "webhook.ping")
                for secret in [old, new] {
                    #expect(WebhookSignature.verify(header: ping.signature, id: ping.id, timestamp: ping.timestamp, body: ping.body, secret: secret))
                }
                #expect(try await client.call(.get, "/api/v1/webhooks/\(webhook)", key: server.tenantB.key).status == .notFound)
                #expect(try await client.call(.delete, "/api/v1/webhooks/\(webhook)", key: key).status == .noContent)
            }
        }
    }

    @Test func anOwnershipChallengeMustBeEchoedBeforeAnEndpointIsCreated() async throws {
        let server = try await Self.server()
        // A receiver that echoes the challenge at /echo, verifying the signature first, and one that does not at /silent.
        let router = Router()
        router.post("/echo") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 16)
            let challenge = try JSONDecoder().decode([String: String].self, from: Data(buffer: body))["challenge"] ?? ""
            let signed = request.headers[HTTPField.Name("webhook-signature")!]?.hasPrefix("v1,") == true
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: signed ? #"{"challenge":"\#(challenge)"}"# : "{}")))
        }
        router.post("/silent") { _, _ in Response(status: .ok) }
        let receiver = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: testLogger)
        try await receiver.test(.live) { receiverClient in
            try await server.run { client in
                let key = server.tenantA.key
                let base = "http://127.0.0.1:\(receiverClient.port!)"
                let verified = try await client.call(.post, "/api/v1/webhooks", key: key, json: ["url": .string(base + "/echo"), "events": ["*"], "verify_ownership": true])
                #expect(verified.status == .created, "\(verified.json)")
                let silent = try await client.call(.post, "/api/v1/webhooks", key: key, json: ["url": .string(base + "/silent"), "events": ["*"], "verify_ownership": true])
                #expect(silent.status == .unprocessableContent && silent["code"]?.string == "ownership_not_verified" && silent["field"]?.string == "url")
                #expect(silent["detail"]?.string?.contains("answered 200 without the challenge") == true)
                let listed = try await client.call(.get, "/api/v1/webhooks", key: key)["data"]?.array ?? []
                #expect(listed.count == 1, "the unverified endpoint was not created")
                let put = try await client.call(.put, "/api/v1/webhooks/\(verified["id"]?.string ?? "")", key: key, json: ["verify_ownership": true])
                #expect(put.status == .unprocessableContent && put["field"]?.string == "verify_ownership")
            }
        }
    }
}
