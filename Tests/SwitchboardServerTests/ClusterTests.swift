import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SwitchboardCore
import SwitchboardTestSupport
import Synchronization
import Testing

/// Three real `switchboard serve` processes on one PostgreSQL database acting as one service.
@Suite(.timeLimit(.minutes(5))) struct ClusterTests {
    typealias ServerProcess = ServerProcessTests.ServerProcess
    typealias Deployment = PostgresDeploymentTests

    /// The leases the server takes: each kind of background work runs on one node at a time.
    static let leases = ["crm", "maintenance", "statistics", "statistics-sink", "ticket-sync", "webhooks"]

    /// Three nodes on a fresh database, sharing one key, with webhooks to loopback allowed and the
    /// `extra` settings.
    static func nodes(_ count: Int = 3, extra: [String: String] = [:]) throws -> (servers: [ServerProcess], key: String, settings: DatabaseSettings) {
        let settings = try TestBackend.postgres.freshDatabase()
        let url = try #require(settings.url)
        let keyFile = try Deployment.sharedKeyFile()
        var environment = Deployment.environment(url: url, keyFile: keyFile).merging(extra) { $1 }
        environment["SWITCHBOARD_WEBHOOKS_ALLOW_HTTP"] = "true"
        environment["SWITCHBOARD_WEBHOOKS_ALLOW_PRIVATE_NETWORKS"] = "true"
        environment["SWITCHBOARD_METRICS_TOKEN"] = "scrape"
        let first = try ServerProcess(environment: environment)
        guard let key = first.demoKey() else {
            first.kill()
            throw TestSetupError("the first node printed no demo key")
        }
        var servers = [first]
        do {
            for _ in 1..<count {
                environment["SWITCHBOARD_DATABASE_PATH"] = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-node-\(UUID().uuidString)/db.sqlite").path
                servers.append(try ServerProcess(environment: environment))
            }
        } catch {
            for server in servers { server.kill() }
            throw error
        }
        return (servers, key, settings)
    }

    /// Which node (by port) holds each lease, from the nodes' last heartbeats; only nodes heard from in
    /// the last 10 s count.
    static func holders(_ store: any Cluster) async throws -> [String: [Int]] {
        var holders: [String: [Int]] = [:]
        for node in try await store.nodes() where Date().timeIntervalSince(node.heartbeatAt) <= 10 {
            guard let port = node.address.split(separator: ":").last.flatMap({ Int($0) }) else { continue }
            for lease in node.leases { holders[lease, default: []].append(port) }
        }
        return holders
    }

    @Test func aClientOnOneNodeReceivesWhatTheOthersCommitInOrderOnce() async throws {
        let (servers, key, _) = try Self.nodes()
        defer { for server in servers { server.kill() } }
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { _ = client.shutdown() }
        let conversation = try await Deployment.conversation(client, port: servers[0].port, key: key)
        let texts = (0..<40).map { "m\($0)" }
        try await withSocket(port: servers[1].port, query: "token=\(key)") { socket in
            #expect(try await socket.next(type: "ready") != nil)
            // Posted one after another through nodes 1 and 3 in turn: commit order is this order.
            for (index, text) in texts.enumerated() {
                let port = servers[index % 2 == 0 ? 0 : 2].port
                #expect(await Deployment.post(client, port: port, key: key, "/messages", Deployment.message(conversation, text)).status == 201)
            }
            var received: [String] = []
            var seqs: [Int] = []
            while received.count < texts.count, let frame = try await socket.next(type: "message") {
                received.append(frame["data"]?["content"]?.string ?? "")
                seqs.append(frame["seq"]?.int ?? 0)
            }
            #expect(received == texts, "every message once, in commit order")
            #expect(seqs == seqs.sorted() && Set(seqs).count == seqs.count)
        }
    }

    @Test func leasesMoveWithinTenSecondsOfTheirHoldersDeathAndNoWebhookIsLost() async throws {
        let (servers, key, settings) = try Self.nodes()
        let killed = Mutex<Set<Int>>([])
        defer { for (index, server) in servers.enumerated() where !killed.withLock({ $0.contains(index) }) { server.kill() } }
        let store = try openStore(settings)
        defer { store.close() }
        // Every lease held by exactly one node (once each has reported the port it listens on).
        let ports = servers.map(\.port)
        try await eventually(limit: .seconds(20), every: .milliseconds(200)) {
            let holders = try await Self.holders(store)
            return Self.leases.allSatisfy { holders[$0].map { $0.count == 1 && ports.contains($0[0]) } ?? false }
        }

        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { _ = client.shutdown() }
        let receiver = WebhookReceiver()
        try await receiver.run { url in
            let webhook = await Deployment.post(client, port: ports[0], key: key, "/webhooks", #"{"url": "\#(url)", "events": ["message.received"]}"#)
            #expect(webhook.status == 201)
            let conversation = try await Deployment.conversation(client, port: ports[0], key: key)
            let holder = try #require(try await Self.holders(store)["webhooks"]?.first)
            let victim = try #require(ports.firstIndex(of: holder))
            let others = ports.indices.filter { $0 != victim }.map { ports[$0] }
            var created: [String] = []
            for count in 0..<20 {
                let answer = await Deployment.post(client, port: others[count % 2], key: key, "/messages", Deployment.message(conversation, "w\(count)"))
                #expect(answer.status == 201)
                if let id = answer.id { created.append(id) }
            }
            servers[victim].kill()
            killed.withLock { _ = $0.insert(victim) }
            let died = ContinuousClock.now
            for count in 20..<40 {
                let answer = await Deployment.post(client, port: others[count % 2], key: key, "/messages", Deployment.message(conversation, "w\(count)"))
                #expect(answer.status == 201)
                if let id = answer.id { created.append(id) }
            }
            // Each lease is taken again, by a live node, within 10 s of the death.
            try await eventually(limit: .seconds(15), every: .milliseconds(100)) {
                let holders = try await Self.holders(store)
                return Self.leases.allSatisfy { lease in holders[lease].map { $0.count == 1 && $0[0] != holder } ?? false }
            }
            let moved = ContinuousClock.now - died
            #expect(moved < .seconds(10), "the leases moved after \(moved)")

            // Every message reached the receiver at least once; a repeat carries the same webhook-id.
            try await eventually(limit: .seconds(30), every: .milliseconds(100)) {
                let delivered = Set(await receiver.received.compactMap { $0.json["data"]?["message_id"]?.string })
                return delivered.isSuperset(of: created)
            }
            var idByMessage: [String: String] = [:]
            for call in await receiver.received {
                guard let message = call.json["data"]?["message_id"]?.string else { continue }
                if let earlier = idByMessage[message] { #expect(earlier == call.id, "a repeat delivery keeps its webhook-id") }
                idByMessage[message] = call.id
            }

            // The survivors' /metrics agree: each lease held by exactly one of them, two nodes live (once
            // the killed node's last heartbeat is over 6 s old).
            try await eventually(limit: .seconds(15), every: .milliseconds(200)) {
                var held: [String: Double] = [:]
                var counted = true
                for port in others {
                    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/metrics")
                    request.headers.add(name: "authorization", value: "Bearer scrape")
                    let text = String(buffer: try await client.execute(request, timeout: .seconds(10)).body.collect(upTo: 1 << 22))
                    for match in text.matches(of: /sb_lease_held\{lease="([^"]+)"\} ([0-9.]+)/) { held[String(match.1), default: 0] += Double(match.2) ?? 0 }
                    counted = counted && text.contains("sb_cluster_nodes 2")
                }
                return counted && Self.leases.allSatisfy { held[$0] == 1 }
            }
        }
    }

    /// Signs one request with an HMAC key and sends the same bytes to two servers; prints both statuses.
    static let replay = """
        import sys, json, uuid, requests
        from http_message_signatures import HTTPMessageSigner, HTTPSignatureKeyResolver, algorithms
        first, second, key_id, secret = sys.argv[1:5]
        class Resolver(HTTPSignatureKeyResolver):
            def resolve_private_key(self, key_id): return secret.encode()
            def resolve_public_key(self, key_id): raise NotImplementedError
        request = requests.Request("POST", first + "/api/v1/agents", json={"name": "Signed once"}).prepare()
        HTTPMessageSigner(signature_algorithm=algorithms.HMAC_SHA256, key_resolver=Resolver()).sign(
            request, key_id=key_id, label="sig1", nonce=str(uuid.uuid4()),
            covered_component_ids=("@method", "@target-uri"), body=request.body)
        session = requests.Session()
        answers = [session.send(request).status_code]
        request.url = request.url.replace(first, second)
        answers.append(session.send(request).status_code)
        print(json.dumps(answers))
        """

    @Test func aReplayOnAnotherNodeAndARevokedKeyAreRefusedEverywhereAndTokensWorkOnEveryNode() async throws {
        // The nodes name one public issuer, as a deployment behind one address does.
        let (servers, key, _) = try Self.nodes(extra: ["SWITCHBOARD_OAUTH_ISSUER": "https://switchboard.example"])
        defer { for server in servers { server.kill() } }
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { _ = client.shutdown() }
        let first = servers[0].port
        let third = servers[2].port
        let signer = try #require(await Deployment.post(client, port: first, key: key, "/api-keys", #"{"name": "signer", "scopes": ["agents:write"]}"#).id)
        let hmac = try #require(await Deployment.call(client, port: first, key: key, "/api-keys/\(signer)/signature-keys", #"{"algorithm": "hmac-sha256"}"#).json)
        let outcome = try await PythonScript.run(
            Self.replay,
            ["http://127.0.0.1:\(first)", "http://127.0.0.1:\(third)", try #require(hmac["keyid"]?.string), try #require(hmac["secret"]?.string)]
        )
        #expect(outcome.output.trimmingCharacters(in: .whitespacesAndNewlines) == "[201, 401]", "\(outcome)")

        // A key in use on node 3 (so cached there), revoked through node 1.
        let doomed = try #require(await Deployment.call(client, port: first, key: key, "/api-keys", #"{"name": "doomed", "scopes": ["agents:read"]}"#).json)
        let (doomedID, doomedSecret) = (try #require(doomed["id"]?.string), try #require(doomed["secret"]?.string))
        func status(_ port: Int, _ method: HTTPMethod, _ path: String, key: String) async -> Int {
            await Deployment.call(client, method, port: port, key: key, path).status
        }
        #expect(await status(third, .GET, "/agents", key: doomedSecret) == 200)
        #expect(await status(first, .DELETE, "/api-keys/\(doomedID)", key: key) == 200)
        let revoked = ContinuousClock.now
        try await eventually(limit: .seconds(5), every: .milliseconds(20)) { await status(third, .GET, "/agents", key: doomedSecret) == 401 }
        let seen = ContinuousClock.now - revoked
        #expect(seen < .seconds(1), "node 3 refused the revoked key after \(seen)")

        // An access token issued by node 1 (signed with the key node 1 made) works on node 3; revoked
        // through node 1, node 3 refuses it.
        func form(_ port: Int, _ path: String, _ body: String, basic: String) async throws -> JSONValue? {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
            request.method = .POST
            request.headers.add(name: "authorization", value: basic)
            request.headers.add(name: "content-type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: body))
            let response = try await client.execute(request, timeout: .seconds(10))
            return try? SwitchboardJSON.decode(JSONValue.self, from: Array(buffer: try await response.body.collect(upTo: 1 << 16)))
        }
        let crm = try #require(await Deployment.call(client, port: first, key: key, "/oauth-clients", #"{"name": "crm", "scopes": ["agents:read"]}"#).json)
        let basic = "Basic " + Data("\(try #require(crm["client_id"]?.string)):\(try #require(crm["client_secret"]?.string))".utf8).base64EncodedString()
        let token = try #require(try await form(first, "/oauth/token", "grant_type=client_credentials", basic: basic)?["access_token"]?.string)
        #expect(await status(third, .GET, "/agents", key: token) == 200)
        _ = try await form(first, "/oauth/revoke", "token=\(token)", basic: basic)
        try await eventually(limit: .seconds(5), every: .milliseconds(20)) { await status(third, .GET, "/agents", key: token) == 401 }
    }

    @Test func anAgentGoesOfflineOnlyWhenItsLastConnectionOnAnyNodeCloses() async throws {
        let (servers, key, _) = try Self.nodes(extra: ["SWITCHBOARD_REALTIME_PRESENCE_GRACE_SECONDS": "0"])
        defer { for server in servers { server.kill() } }
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { _ = client.shutdown() }
        let agent = try #require(await Deployment.post(client, port: servers[0].port, key: key, "/agents", #"{"name": "Ada"}"#).id)
        let issuer = #"{"issuer": "https://desk.example", "audience": "support", "kind": "hs256"}"#
        let secret = try #require(await Deployment.call(client, port: servers[0].port, key: key, "/token-issuers", issuer).json?["secret"]?.string)
        let mint = """
            import sys, time, jwt
            print(jwt.encode({"iss": "https://desk.example", "aud": "support", "sub": sys.argv[2], "role": "agent", "exp": int(time.time()) + 300}, sys.argv[1], algorithm="HS256"))
            """
        let token = try await PythonScript.run(mint, [secret, agent]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        @Sendable func status() async -> String? {
            await Deployment.call(client, .GET, port: servers[2].port, key: key, "/agents/\(agent)").json?["status"]?.string
        }
        try await withSocket(port: servers[1].port, query: "", headers: [.authorization: "Bearer \(token)"]) { second in
            #expect(try await second.next(type: "ready") != nil)
            try await withSocket(port: servers[0].port, query: "", headers: [.authorization: "Bearer \(token)"]) { first in
                #expect(try await first.next(type: "ready") != nil)
                try await first.send(["type": "presence", "id": "p1", "data": ["status": "online"]])
                #expect(try await first.next(type: "ack")?["data"]?["status"]?.string == "online")
            }
            // The connection on node 1 closed; the one on node 2 keeps the agent online past the grace
            // period (0 s here) and the time a server takes to notice a close.
            try await Task.sleep(for: .seconds(2))
            #expect(await status() == "online")
        }
        try await eventually { await status() == "offline" }
    }
}
