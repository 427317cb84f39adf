import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SwitchboardCore
import SwitchboardPluginHost
import SwitchboardServer
import SwitchboardTestSupport
import Testing

/// The findings of the attack review (issue 24), each tried as an attacker with an ordinary credential would.
@Suite(.timeLimit(.minutes(5))) struct AttackReviewTests {
    /// Number texts that trapped `Int64(_:)` conversions, or sit at the edges of one.
    static let hostileNumbers = ["1e300", "-1e19", "1e-300", "9.3e18", "-0"]

    /// Finding 1: a key holding only `agents:read` sends every numeric field of every frame type as every
    /// hostile number, then every REST body's numeric fields too; the server answers each and stays up.
    @Test func hostileNumbersInFramesAndBodiesNeverStopTheServer() async throws {
        let server = try await TestServer.make { $0.realtime.framesPerSecond = 1_000 }
        try await server.run { client in
            let port = try #require(client.port)
            let reader = try await SecurityTests.key(client, admin: server.tenantA.key, ["name": "reader", "scopes": ["agents:read"]]).secret
            let conversation = try await Fixtures(client: client, key: server.tenantA.key).conversation()
            for key in [reader, server.tenantA.key] {
                try await withSocket(port: port, query: "token=\(key)") { socket in
                    _ = try await socket.next(type: "ready")
                    for number in Self.hostileNumbers {
                        let frames = [
                            #"{"type":"subscribe","since":\#(number)}"#,
                            #"{"type":"ping","id":\#(number)}"#,
                            #"{"type":"subscribe","id":\#(number),"since":0}"#,
                            #"{"type":"presence","id":\#(number),"data":{"status":"away"}}"#,
                            #"{"type":"event","action":"status_change","id":\#(number),"data":{"status":"away"}}"#,
                            #"{"type":"message","action":"send","id":\#(number),"conversation_id":"\#(conversation.id)","data":{"from":"\#(conversation.visitor)","content":"n"}}"#,
                            #"{"type":"message","action":"send","id":"t-\#(number)","conversation_id":"\#(conversation.id)","data":{"from":"\#(conversation.visitor)","content":"n","timestamp":\#(number)}}"#,
                        ]
                        for frame in frames {
                            try await socket.outbound.write(.text(frame))
                            try await socket.outbound.write(.text(#"{"type":"ping","id":"after"}"#))
                            #expect(try await socket.next(type: "pong") != nil, "\(frame)")
                        }
                    }
                }
            }
            // Every numeric property of every JSON request body of the served contract.
            let document = try await client.call(.get, "/api/v1/openapi.json", key: nil).json
            var sent = 0
            for (path, operations) in document["paths"]?.objectValue ?? [:] {
                for (method, operation) in operations.objectValue ?? [:] {
                    guard let httpMethod = HTTPRequest.Method(method.uppercased()),
                        let schema = Self.resolve(operation["requestBody"]?["content"]?["application/json"]?["schema"], in: document)
                    else { continue }
                    for (field, property) in schema["properties"]?.objectValue ?? [:] {
                        guard let type = Self.resolve(property, in: document)?["type"], Self.isNumeric(type) else { continue }
                        for number in Self.hostileNumbers {
                            let uri = path.replacingOccurrences(of: "{id}", with: conversation.id).replacingOccurrences(of: "{plugin}", with: "echo-c")
                            let answer = try await client.call(httpMethod, uri, key: server.tenantA.key, body: #"{"\#(field)":\#(number)}"#)
                            #expect(answer.status.code < 500, "\(method) \(path) \(field)=\(number): \(answer.json)")
                            sent += 1
                        }
                    }
                }
            }
            #expect(sent >= 30, "the sweep reached the numeric fields")
            #expect(try await client.call(.get, "/health", key: nil).status == .ok)
        }
    }

    static func resolve(_ schema: JSONValue?, in document: JSONValue) -> JSONValue? {
        guard let schema else { return nil }
        if let reference = schema["$ref"]?.string, let name = reference.split(separator: "/").last {
            return resolve(document["components"]?["schemas"]?[String(name)], in: document)
        }
        return schema
    }

    static func isNumeric(_ type: JSONValue) -> Bool {
        switch type {
        case .string(let name): name == "integer" || name == "number"
        case .array(let names): names.contains { isNumeric($0) }
        default: false
        }
    }

    /// Finding 2 and the privilege matrix: for every scope a key can hold beside `keys:manage`, what it can
    /// do to keys, signing keys, OAuth clients and issuers never exceeds its own scopes.
    @Test func keyManagersNeverReachMoreThanTheirOwnScopes() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let admin = server.tenantA.key
            let targets: [[String]] = [["admin"], ["keys:manage", "agents:read"], ["agents:read"], ["webhooks:manage"]]
            let callers: [[String]] = [["keys:manage"]] + Scope.all.filter { $0 != .keysManage }.map { ["keys:manage", $0.name] }
            for callerScopes in callers {
                let caller = try await SecurityTests.key(client, admin: admin, ["name": "caller", "scopes": .array(callerScopes.map { .string($0) })]).secret
                let held = Set(callerScopes)
                for targetScopes in targets {
                    let within = held.contains("admin") || Set(targetScopes).isSubset(of: held)
                    let expected: HTTPResponse.Status = within ? .ok : .forbidden
                    let scopes = JSONValue.array(targetScopes.map { .string($0) })
                    let label = "\(callerScopes) on \(targetScopes)"
                    let target = try await SecurityTests.key(client, admin: admin, ["name": "target", "scopes": scopes]).id

                    #expect(try await client.call(.post, "/api/v1/api-keys/\(target)/rotate", key: caller).status == expected, "rotate: \(label)")
                    #expect(try await client.call(.put, "/api/v1/api-keys/\(target)", key: caller, json: ["name": "renamed"]).status == expected, "update: \(label)")
                    let signing = try await client.call(.post, "/api/v1/api-keys/\(target)/signature-keys", key: caller, json: ["algorithm": "hmac-sha256"])
                    #expect(signing.status == (within ? .created : .forbidden), "signing key: \(label)")
                    #expect(try await client.call(.get, "/api/v1/api-keys/\(target)/signature-keys", key: caller).status == expected, "signing keys: \(label)")
                    #expect(try await client.call(.delete, "/api/v1/api-keys/\(target)", key: caller).status == expected, "revoke: \(label)")

                    let created = try await client.call(.post, "/api/v1/api-keys", key: caller, json: ["name": "new", "scopes": scopes])
                    #expect(created.status == (within ? .created : .forbidden), "create key: \(label)")
                    let oauth = try await client.call(.post, "/api/v1/oauth-clients", key: caller, json: ["name": "new", "scopes": scopes])
                    #expect(oauth.status == (within ? .created : .forbidden), "create client: \(label)")
                    let oauthTarget = try #require(try await client.call(.post, "/api/v1/oauth-clients", key: admin, json: ["name": "t", "scopes": scopes])["client_id"]?.string)
                    #expect(try await client.call(.delete, "/api/v1/oauth-clients/\(oauthTarget)", key: caller).status == expected, "revoke client: \(label)")
                }
                let issuer = try await client.call(.post, "/api/v1/token-issuers", key: caller, json: ["issuer": "https://i.example", "audience": "a", "kind": "hs256"])
                #expect(issuer.status == (held.contains("admin") ? .created : .forbidden), "issuer: \(callerScopes)")
                if issuer.status == .created, let id = issuer["id"]?.string {
                    #expect(try await client.call(.delete, "/api/v1/token-issuers/\(id)", key: caller).status == .noContent)
                }
            }
        }
    }

    /// Finding 2, restrictions: a restricted key manager cannot lift its own expiry, networks or rate
    /// limit, neither on its own key nor through a new one, nor take over a less restricted key.
    @Test func aRestrictedKeyManagerCannotLiftItsRestrictions() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let admin = server.tenantA.key
            let expiry = "2099-01-01T00:00:00Z"
            let manager = try await SecurityTests.key(
                client,
                admin: admin,
                ["name": "m", "scopes": ["keys:manage", "agents:read"], "expires_at": .string(expiry), "allowed_ips": ["127.0.0.0/8"], "rate_limit": 100]
            )
            for lift: JSONValue in [["expires_at": .null], ["allowed_ips": []], ["rate_limit": .null], ["rate_limit": 1_000], ["allowed_ips": ["0.0.0.0/0"]]] {
                let own = try await client.call(.put, "/api/v1/api-keys/\(manager.id)", key: manager.secret, json: lift)
                #expect(own.status == .forbidden && own["code"]?.string == "restriction_not_liftable", "\(lift): \(own.json)")
                var settings: [String: JSONValue] = ["name": "n", "scopes": ["agents:read"]]
                if case .object(let fields) = lift { settings.merge(fields) { $1 } }
                let new = try await client.call(.post, "/api/v1/api-keys", key: manager.secret, json: .object(settings))
                #expect(new.status == .forbidden && new["code"]?.string == "restriction_not_liftable", "\(lift): \(new.json)")
            }
            // Tightening is fine, and a new key takes the manager's restrictions where it names none.
            #expect(try await client.call(.put, "/api/v1/api-keys/\(manager.id)", key: manager.secret, json: ["rate_limit": 50]).status == .ok)
            let inherited = try await client.call(.post, "/api/v1/api-keys", key: manager.secret, json: ["name": "n", "scopes": ["agents:read"]])
            #expect(inherited.status == .created)
            #expect(inherited["allowed_ips"]?.array.compactMap(\.string) == ["127.0.0.0/8"] && inherited["rate_limit"]?.int == 50)
            #expect(inherited["expires_at"]?.string != nil)
            // An OAuth client carries no restrictions: a restricted manager cannot make one.
            let oauth = try await client.call(.post, "/api/v1/oauth-clients", key: manager.secret, json: ["name": "c", "scopes": ["agents:read"]])
            #expect(oauth.status == .forbidden && oauth["code"]?.string == "restriction_not_liftable", "\(oauth.json)")
            // An unrestricted key with the same scopes is out of its reach: rotating it would hand over a stronger key.
            let open = try await SecurityTests.key(client, admin: admin, ["name": "open", "scopes": ["agents:read"]])
            let rotated = try await client.call(.post, "/api/v1/api-keys/\(open.id)/rotate", key: manager.secret)
            #expect(rotated.status == .forbidden && rotated["code"]?.string == "credential_not_manageable")
        }
    }

    /// Finding 3: a participant edits and deletes only its own messages.
    @Test func participantsChangeOnlyTheirOwnMessages() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let admin = server.tenantA.key
            let secret = try #require(
                try await client.call(.post, "/api/v1/token-issuers", key: admin, json: ["issuer": "https://shop.example", "audience": "support", "kind": "hs256"])["secret"]?.string
            )
            let conversation = try await Fixtures(client: client, key: admin).conversation()
            let minted = try await PythonScript.run(Self.mint, [secret, "https://shop.example", "support", "visitor", conversation.visitor])
            let token = try #require(minted.output.split(separator: "\n").first.map(String.init), "\(minted)")
            let fixtures = Fixtures(client: client, key: admin)
            let agents = try #require(try await fixtures.message(in: conversation.id, from: conversation.agent, "Your refund is approved")["id"]?.string)
            let own = try #require(try await client.call(.post, "/api/v1/messages", key: token, json: ["conversation_id": .string(conversation.id), "from": .string(conversation.visitor), "content": "thanks"])["id"]?.string)

            let rewritten = try await client.call(.put, "/api/v1/messages/\(agents)", key: token, json: ["content": "Your refund is DENIED"])
            #expect(rewritten.status == .forbidden && rewritten["code"]?.string == "not_message_author", "\(rewritten.json)")
            #expect(try await client.call(.delete, "/api/v1/messages/\(agents)", key: token).status == .forbidden)
            #expect(try await client.call(.get, "/api/v1/messages/\(agents)", key: admin)["content"]?.string == "Your refund is approved")
            #expect(try await client.call(.put, "/api/v1/messages/\(own)", key: token, json: ["content": "thank you"]).status == .ok)
            #expect(try await client.call(.delete, "/api/v1/messages/\(own)", key: token).status == .ok)
            #expect(try await client.call(.put, "/api/v1/messages/\(agents)", key: admin, json: ["content": "moderated"]).status == .ok)
        }
    }

    /// The review of the fixes: tickets were checked by tenant only, so an agent read and changed the
    /// tickets of conversations not assigned to it.
    @Test func agentsReachOnlyTheTicketsOfTheirConversations() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let admin = server.tenantA.key
            let secret = try #require(
                try await client.call(.post, "/api/v1/token-issuers", key: admin, json: ["issuer": "https://shop.example", "audience": "support", "kind": "hs256"])["secret"]?.string
            )
            let fixtures = Fixtures(client: client, key: admin)
            let own = try await fixtures.conversation()
            let other = try await fixtures.conversation()
            let token = try #require(try await PythonScript.run(Self.mint, [secret, "https://shop.example", "support", "agent", own.agent]).output.split(separator: "\n").first.map(String.init))
            func ticket(_ conversation: String?) async throws -> String {
                var body: [String: JSONValue] = ["title": "t", "content": "c"]
                body["conversation_id"] = conversation.map(JSONValue.string)
                return try #require(try await client.call(.post, "/api/v1/tickets", key: admin, json: .object(body))["ticket_id"]?.string)
            }
            let mine = try await ticket(own.id)
            let theirs = try await ticket(other.id)
            let loose = try await ticket(nil)

            #expect(try await client.call(.get, "/api/v1/tickets/\(mine)", key: token).status == .ok)
            for id in [theirs, loose] {
                #expect(try await client.call(.get, "/api/v1/tickets/\(id)", key: token).status == .notFound)
                #expect(try await client.call(.put, "/api/v1/tickets/\(id)", key: token, json: ["status": "closed"]).status == .notFound)
            }
            #expect(try await client.call(.get, "/api/v1/tickets", key: token).status == .unprocessableContent)
            #expect(try await client.call(.get, "/api/v1/tickets?conversation_id=\(other.id)", key: token).status == .unprocessableContent)
            #expect(try await client.call(.get, "/api/v1/tickets?conversation_id=\(own.id)", key: token)["data"]?.array.count == 1)
            let into = try await client.call(.post, "/api/v1/tickets", key: token, json: ["title": "t", "content": "c", "conversation_id": .string(other.id)])
            #expect(into.status == .unprocessableContent && into["code"]?.string == "conversation_not_found")
            #expect(try await client.call(.get, "/api/v1/tickets/\(theirs)", key: admin).status == .ok)
        }
    }

    /// PyJWT: prints one HS256 token per `role sub` pair.
    static let mint = """
        import sys, time, jwt
        secret, issuer, audience = sys.argv[1:4]
        now = int(time.time())
        for role, sub in zip(sys.argv[4::2], sys.argv[5::2]):
            print(jwt.encode({"iss": issuer, "aud": audience, "sub": sub, "role": role, "exp": now + 300}, secret, algorithm="HS256"))
        """

    /// Findings 4 and 5: two tenants trust the same identity provider, and their visitors share a `sub`;
    /// each token stays in its tenant, and one tenant's flood does not spend the other's rate limit.
    @Test func tenantsShareAnIssuerAndASubjectWithoutSharingAnything() async throws {
        let server = try await TestServer.make { $0.security.credentialRateLimit = 5 }
        try await server.run { client in
            let issuer = "https://accounts.example"
            var secrets: [String] = []
            for (key, audience) in [(server.tenantA.key, "shop-a"), (server.tenantB.key, "shop-b")] {
                let created = try await client.call(.post, "/api/v1/token-issuers", key: key, json: ["issuer": .string(issuer), "audience": .string(audience), "kind": "hs256"])
                #expect(created.status == .created, "a tenant registers an issuer another tenant uses: \(created.json)")
                secrets.append(try #require(created["secret"]?.string))
            }
            let a = try #require(try await PythonScript.run(Self.mint, [secrets[0], issuer, "shop-a", "visitor", "crm-42"]).output.split(separator: "\n").first.map(String.init))
            let b = try #require(try await PythonScript.run(Self.mint, [secrets[1], issuer, "shop-b", "visitor", "crm-42"]).output.split(separator: "\n").first.map(String.init))
            for _ in 0..<8 { _ = try await client.call(.get, "/api/v1/conversations", key: a) }
            #expect(try await client.call(.get, "/api/v1/conversations", key: a).status == .tooManyRequests)
            #expect(try await client.call(.get, "/api/v1/conversations", key: b).status == .ok, "tenant B's crm-42 has its own bucket")

            // Tenant B cannot take A's audience at the same issuer, so A's tokens stay A's alone.
            let squat = try await client.call(.post, "/api/v1/token-issuers", key: server.tenantB.key, json: ["issuer": .string(issuer), "audience": "shop-a", "kind": "hs256"])
            #expect(squat.status == .conflict && squat["field"]?.string == "audience")
            let aAgain = try #require(try await PythonScript.run(Self.mint, [secrets[0], issuer, "shop-a", "visitor", "crm-43"]).output.split(separator: "\n").first.map(String.init))
            #expect(try await client.call(.get, "/api/v1/conversations", key: aAgain).status == .ok)
        }
    }

    /// Finding 6: the connection goes to the address that was checked. The name resolves only through
    /// the injected resolver, so a client that resolved it again could not connect at all.
    @Test func outboundRequestsConnectToTheCheckedAddress() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let port = try #require(client.port)
            let outbound = OutboundHTTPClient(configuration: HTTPClient.Configuration()) { host in
                host == "switchboard-rebind.invalid" ? [[127, 0, 0, 1]] : []
            }
            let request = HTTPClientRequest(url: "http://switchboard-rebind.invalid:\(port)/health")
            let status = try await outbound.execute(request, policy: OutboundAddressPolicy(allowsPrivateNetworks: true), timeout: .seconds(5)) { $0.status.code }
            #expect(status == 200)
            await #expect(throws: OutboundHTTPClient.Refusal.refused) {
                try await outbound.execute(request, policy: OutboundAddressPolicy(), timeout: .seconds(5)) { $0.status.code }
            }
            await #expect(throws: OutboundHTTPClient.Refusal.refused) {
                try await outbound.execute(HTTPClientRequest(url: "http://[::127.0.0.1]:\(port)/health"), policy: OutboundAddressPolicy(), timeout: .seconds(5)) { $0.status.code }
            }
            try await outbound.shutdown()
        }
    }

    /// The review of the fixes: `since` in the upgrade's query at Int64's end, and a receiver's
    /// Retry-After of 9.3e15 seconds, each stopped the process; a password check through `call` skipped
    /// the failed-sign-in limit.
    @Test func numbersFromTheQueryAndFromReceiversNeverStopTheServer() async throws {
        let receiver = WebhookReceiver()
        await receiver.answer([.init(status: .tooManyRequests, headers: [.retryAfter: "9300000000000000"])])
        let server = try await TestServer.make {
            $0.webhooks.allowsPrivateNetworks = true
            $0.webhooks.allowsHTTP = true
        }
        try await receiver.run { url in
            try await server.run { client in
                let port = try #require(client.port)
                for since in ["9223372036854775807", "9223372036854775806"] {
                    try await withSocket(port: port, query: "token=\(server.tenantA.key)&since=\(since)") { socket in
                        let ready = try await socket.next(type: "ready")
                        #expect(ready != nil)
                    }
                }
                let key = server.tenantA.key
                let refused = try await offPool {
                    try RawConnection(port: port).get(
                        "/ws?token=\(key)&since=-1",
                        headers: "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    )
                }
                #expect(refused?.hasPrefix("HTTP/1.1 400") == true && refused?.contains(#""field":"since""#) == true, "\(refused ?? "")")
                // An upgrade request with bytes after it in the same write (a frame sent before the 101):
                // the connection's HTTP timeouts step aside before those bytes come through.
                try await offPool {
                    let eager = try RawConnection(port: port)
                    eager.send(
                        "GET /ws?token=\(key) HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                            + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\nXYZ"
                    )
                    _ = eager.isClosed(within: .seconds(2))
                }
                #expect(try await client.call(.get, "/health", key: nil).status == .ok, "the server is still up")

                // A receiver that answers 429 with a Retry-After far beyond any date: the delivery waits a day at most.
                let webhook = try #require(try await client.call(.post, "/api/v1/webhooks", key: key, json: ["url": .string(url), "events": ["*"]])["id"]?.string)
                _ = try await Fixtures(client: client, key: key).agent()
                try await eventually {
                    let attempts = try await client.call(.get, "/api/v1/webhooks/\(webhook)/deliveries", key: key)["data"]?.array.first?["attempts"]?.array ?? []
                    return attempts.first?["status_code"] == 429
                }
                #expect(try await client.call(.get, "/health", key: nil).status == .ok)

                let reserved = try await client.call(.post, "/api/v1/integrations/echo-c/call", key: key, json: ["op": "auth.verify", "args": ["username": "u", "password": "p"]])
                #expect(reserved.status == .forbidden && reserved["code"]?.string == "op_reserved")
            }
        }
    }

    /// Finding 10: an unauthenticated request naming `system` is audited as anonymous.
    @Test func failedAuthenticationsAreAuditedAsAnonymous() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let basic = "Basic " + Data("\(server.tenantA.tenantID)/system:x".utf8).base64EncodedString()
            #expect(try await client.call(.get, "/api/v1/agents", key: nil, headers: [.authorization: basic]).status == .unauthorized)
            let entries = try await SecurityTests.audit(client, admin: server.tenantA.key, action: "auth.failed")
            #expect(entries.allSatisfy { $0["actor"]?.string == "anonymous" }, "\(entries)")
            #expect(entries.contains { $0["detail"]?["claimed_subject"]?.string == "system" })
        }
    }

    /// Finding 13: the database, its WAL and a folder the server creates are private to its user; an
    /// identity provider's keys are fetched over https only.
    @Test func theDatabaseIsPrivateAndIdentityProvidersUseHTTPS() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let path = server.configuration.database.path
            for file in [path, path + "-wal"] {
                let mode = try #require(try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int)
                #expect(mode & 0o077 == 0, "\(file) is \(String(mode, radix: 8))")
            }
            let folder = try #require(try FileManager.default.attributesOfItem(atPath: (path as NSString).deletingLastPathComponent)[.posixPermissions] as? Int)
            #expect(folder & 0o077 == 0)
            for (kind, field) in [("jwks", "jwks_url"), ("introspection", "introspection_url")] {
                var body: [String: JSONValue] = ["issuer": "https://idp.example", "audience": "a", "kind": .string(kind), .init(field): "http://idp.example/keys"]
                if kind == "introspection" { body.merge(["client_id": "c", "client_secret": "s"]) { $1 } }
                let plain = try await client.call(.post, "/api/v1/token-issuers", key: server.tenantA.key, json: .object(body))
                #expect(plain.status == .unprocessableContent && plain["field"]?.string == field, "\(plain.json)")
            }
        }
    }

    /// Found by fuzzing: Foundation's `JSONDecoder` stops the process on a document whose 513th nested
    /// bracket is its last byte. A webhook receiver answering the ownership challenge and an identity
    /// provider serving its key set with such a body each get a refusal, and the server stays up.
    @Test func peersAnsweringJSONNestedPastTheBoundDoNotStopTheServer() async throws {
        let nested = String(repeating: "[", count: 513)
        let server = try await TestServer.make {
            $0.security.allowsPrivateIdentityProviders = true
            $0.webhooks.allowsPrivateNetworks = true
            $0.webhooks.allowsHTTP = true
        }
        let router = Router()
        router.post("/challenge") { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: nested))) }
        router.get("/jwks.json") { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: nested))) }
        let peer = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: testLogger)
        try await peer.test(.live) { peerClient in
            let base = "http://127.0.0.1:\(try #require(peerClient.port))"
            try await server.run { client in
                let admin = server.tenantA.key
                let webhook = try await client.call(.post, "/api/v1/webhooks", key: admin, json: ["url": .string(base + "/challenge"), "events": ["*"], "verify_ownership": true])
                #expect(webhook.status == .unprocessableContent && webhook["code"]?.string == "ownership_not_verified", "\(webhook.json)")

                let issuer = try await client.call(
                    .post, "/api/v1/token-issuers", key: admin,
                    json: ["issuer": "https://idp.example", "audience": "support", "kind": "jwks", "jwks_url": .string(base + "/jwks.json")]
                )
                #expect(issuer.status == .created, "\(issuer.json)")
                func segment(_ json: String) -> String {
                    Data(json.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                        .replacingOccurrences(of: "=", with: "")
                }
                let exp = Int(Date().timeIntervalSince1970) + 300
                let token = segment(#"{"alg":"RS256","kid":"k1"}"#) + "." + segment(#"{"iss":"https://idp.example","aud":"support","sub":"a","exp":\#(exp)}"#) + ".c2ln"
                let answer = try await client.call(.get, "/api/v1/agents", key: token)
                #expect(answer.status.code >= 400 && answer.status.code != 500, "\(answer.status) \(answer.json)")
                #expect(try await client.call(.get, "/api/v1/agents", key: admin).status == .ok, "the server is still up")
            }
        }
    }
}

extension JSONValue {
    fileprivate var objectValue: [String: JSONValue]? {
        if case .object(let object) = self { return object }
        return nil
    }
}
