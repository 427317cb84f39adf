import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SwitchboardCore
import SwitchboardServer
import SwitchboardTestSupport
import Testing

@Suite(.timeLimit(.minutes(5))) struct SecurityTests {
    /// Creates a key of tenant A over REST and returns its id and secret.
    static func key(_ client: any TestClientProtocol, admin: String, _ settings: JSONValue) async throws -> (id: String, secret: String) {
        let created = try await client.call(.post, "/api/v1/api-keys", key: admin, json: settings)
        #expect(created.status == .created, "\(created.json)")
        return (try #require(created["id"]?.string), try #require(created["secret"]?.string))
    }

    /// The tenant's audit entries of one action, once there are at least `count`: refusals are
    /// audited without holding up the answer, so they may land a moment later.
    static func audit(_ client: any TestClientProtocol, admin: String, action: String, count: Int = 1, headers: HTTPFields = [:]) async throws -> [JSONValue] {
        var entries: [JSONValue] = []
        try await eventually {
            entries = try await client.call(.get, "/api/v1/audit-events?action=\(action)&limit=200", key: admin, headers: headers)["data"]?.array ?? []
            return entries.count >= count
        }
        return entries
    }

    @Test func everyRouteRequiresItsScopeAndHidesEveryOtherTenantsData() async throws {
        let server = try await TestServer.make {
            $0.webhooks.allowsPrivateNetworks = true
            $0.webhooks.allowsHTTP = true
        }
        let registry = RouteRegistry()
        try await server.run(registry: registry) { client in
            let a = Fixtures(client: client, key: server.tenantA.key)
            let conversation = try await a.conversation()
            let message = try #require(try await a.message(in: conversation.id, from: conversation.visitor)["id"]?.string)
            let webhook = try #require(
                try await client.call(.post, "/api/v1/webhooks", key: server.tenantA.key, json: ["url": "http://127.0.0.1:9/hook", "events": ["message.*"]])["id"]?
                    .string
            )
            let delivery = try #require(try await client.call(.post, "/api/v1/webhooks/\(webhook)/test", key: server.tenantA.key)["delivery_id"]?.string)
            let key = try await Self.key(client, admin: server.tenantA.key, ["name": "reader", "scopes": ["agents:read"]])
            let signatureKey = try #require(
                try await client.call(.post, "/api/v1/api-keys/\(key.id)/signature-keys", key: server.tenantA.key, json: ["algorithm": "hmac-sha256"])["keyid"]?.string
            )
            let ids: [String: String] = [
                "agents": conversation.agent, "visitors": conversation.visitor, "conversations": conversation.id, "messages": message,
                "webhooks": webhook, "api-keys": key.id,
            ]
            let scopeless = try await Self.key(client, admin: server.tenantA.key, ["name": "none", "scopes": []]).secret

            // A valid body where `{}` would fail validation first: what is checked here is who sees what.
            let bodies = [
                "PUT /api/v1/messages/{id}": #"{"content": "x"}"#, "POST /api/v1/integrations/{plugin}/call": #"{"op": "echo.ping"}"#,
                "POST /api/v1/api-keys/{id}/signature-keys": #"{"algorithm": "hmac-sha256"}"#,
            ]
            // Query parameters a route requires.
            let queries = ["/api/v1/statistics/report": "?type=conversation&start_date=2026-01-01&end_date=2026-12-31"]
            let routes = registry.routes.filter { $0.scope != nil }
            #expect(routes.count >= 40)
            for route in routes {
                // The route's own resource id fills {id}; {delivery_id}, {plugin} and {keyid} name tenant A's too.
                let resource = route.path.split(separator: "/")[2]
                let uri = route.path.replacingOccurrences(of: "{id}", with: ids[String(resource)] ?? "none")
                    .replacingOccurrences(of: "{delivery_id}", with: delivery).replacingOccurrences(of: "{plugin}", with: "echo-c")
                    .replacingOccurrences(of: "{keyid}", with: signatureKey).replacingOccurrences(of: "{seq}", with: "1") + (queries[route.path] ?? "")
                let method = HTTPRequest.Method(route.method)!
                let body: String? = method == .get || method == .delete ? nil : bodies["\(route.method) \(route.path)"] ?? "{}"

                let denied = try await client.call(method, uri, key: scopeless, body: body)
                #expect(denied.status == .forbidden, "\(route.method) \(route.path)")
                #expect(denied["code"]?.string == "missing_scope")
                #expect(denied["required_scope"]?.string == route.scope?.name, "\(route.method) \(route.path)")

                if route.path.contains("{") {
                    let foreign = try await client.call(method, uri, key: server.tenantB.key, body: body)
                    #expect(foreign.status == .notFound, "\(route.method) \(uri) as tenant B: \(foreign.json)")
                } else if method == .get {
                    let list = try await client.call(method, uri, key: server.tenantB.key)
                    #expect(list.status == .ok, "\(uri)")
                    let text = String(decoding: try JSONEncoder().encode(list.json), as: UTF8.self)
                    for (kind, id) in ids { #expect(!text.contains(id), "\(uri) lists tenant A's \(kind)") }
                }
            }
            let denials = try await Self.audit(client, admin: server.tenantA.key, action: "access.denied", count: routes.count)
            #expect(denials.count == routes.count)
            #expect(denials.allSatisfy { $0["detail"]?["reason"]?.string == "missing_scope" && $0["client_ip"]?.string == "127.0.0.1" })
        }
    }

    @Test func apiKeysAreCreatedRotatedAndRevokedWithoutGainingScopes() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let admin = server.tenantA.key
            let reader = try await Self.key(client, admin: admin, ["name": "reader", "scopes": ["agents:read", "keys:manage"]])
            #expect(try await client.call(.get, "/api/v1/agents", key: reader.secret).status == .ok)
            let write = try await client.call(.post, "/api/v1/agents", key: reader.secret, json: ["name": "x"])
            #expect(write.status == .forbidden && write["required_scope"]?.string == "agents:write")
            // X-API-Key works as well as the bearer form.
            #expect(try await client.call(.get, "/api/v1/agents", key: nil, headers: [.init("X-API-Key")!: reader.secret]).status == .ok)

            let escalation = try await client.call(.post, "/api/v1/api-keys", key: reader.secret, json: ["name": "y", "scopes": ["agents:write"]])
            #expect(escalation.status == .forbidden && escalation["code"]?.string == "scope_not_grantable")
            #expect(try await client.call(.put, "/api/v1/api-keys/\(reader.id)", key: reader.secret, json: ["scopes": ["admin"]]).status == .forbidden)
            let unknown = try await client.call(.post, "/api/v1/api-keys", key: admin, json: ["name": "y", "scopes": ["agents:fly"]])
            #expect(unknown.status == .unprocessableContent && unknown["field"]?.string == "scopes")
            let badRange = try await client.call(.post, "/api/v1/api-keys", key: admin, json: ["name": "y", "scopes": [], "allowed_ips": ["10.0.0.0/33"]])
            #expect(badRange.status == .unprocessableContent && badRange["field"]?.string == "allowed_ips")
            let past = try await client.call(.post, "/api/v1/api-keys", key: admin, json: ["name": "y", "scopes": [], "expires_at": "2020-01-01T00:00:00Z"])
            #expect(past.status == .unprocessableContent && past["field"]?.string == "expires_at")

            let listed = try await client.call(.get, "/api/v1/api-keys", key: admin)["data"]?.array ?? []
            #expect(listed.contains { $0["id"]?.string == reader.id && $0["secret"] == nil && $0["scopes"]?.array == ["agents:read", "keys:manage"] })

            let rotated = try await client.call(.post, "/api/v1/api-keys/\(reader.id)/rotate", key: admin)
            let newSecret = try #require(rotated["secret"]?.string)
            #expect(try await client.call(.get, "/api/v1/agents", key: reader.secret).status == .unauthorized)
            #expect(try await client.call(.get, "/api/v1/agents", key: newSecret).status == .ok)
            #expect(try await client.call(.delete, "/api/v1/api-keys/\(reader.id)", key: admin)["revoked_at"]?.string != nil)
            let revoked = try await client.call(.get, "/api/v1/agents", key: newSecret)
            #expect(revoked.status == .unauthorized && revoked["detail"]?.string == "The API key was revoked.")

            // A key that expired answers 401 and says so.
            let (expired, expiredSecret) = try await server.store.createAPIKey(
                tenant: server.tenantA.tenantID,
                settings: APIKeySettings(name: "old", scopes: [.admin], expiresAt: .some(Date(timeIntervalSinceNow: -60)))
            )
            let late = try await client.call(.get, "/api/v1/agents", key: expiredSecret)
            #expect(late.status == .unauthorized && late["detail"]?.string == "The API key has expired.")

            let failures = try await Self.audit(client, admin: admin, action: "auth.failed", count: 2)
            let actions = Set((try await client.call(.get, "/api/v1/audit-events?limit=200", key: admin)["data"]?.array ?? []).compactMap { $0["action"]?.string })
            #expect(actions.isSuperset(of: ["api_key.created", "api_key.rotated", "api_key.revoked", "access.denied", "auth.failed"]))
            #expect(failures.contains { $0["actor"]?.string == "anonymous" && $0["detail"]?["claimed_subject"]?.string == expired.id && $0["detail"]?["reason"]?.string == "expired" })
            #expect(failures.contains { $0["actor"]?.string == "anonymous" && $0["detail"]?["claimed_subject"]?.string == reader.id && $0["detail"]?["reason"]?.string == "revoked" })
            let everything = String(decoding: try JSONEncoder().encode(try await client.call(.get, "/api/v1/audit-events?limit=200", key: admin).json), as: UTF8.self)
            #expect(!everything.contains(newSecret) && !everything.contains(reader.secret) && !everything.contains("sb_live_"))
            #expect(try await client.call(.get, "/api/v1/audit-events", key: newSecret).status == .unauthorized)
        }
    }

    @Test func theRequestPastAQuotaGets429WithRetryAfterAndEveryResponseCarriesTheHeaders() async throws {
        let server = try await TestServer.make { $0.security.credentialRateLimit = 5 }
        try await server.run { client in
            let admin = server.tenantA.key
            let limited = try await Self.key(client, admin: admin, ["name": "limited", "scopes": ["agents:read"], "rate_limit": 2])
            var remaining: [Int] = []
            for _ in 0..<2 {
                let response = try await client.call(.get, "/api/v1/agents", key: limited.secret)
                #expect(response.status == .ok)
                #expect(response.headers[.init("RateLimit-Policy")!]?.contains(#""credential";q=2;w=60"#) == true)
                let header = try #require(response.headers[.init("RateLimit")!])
                remaining.append(Int(header.split(separator: ";").first { $0.hasPrefix("r=") }!.dropFirst(2))!)
            }
            #expect(remaining == [1, 0])
            for _ in 0..<2 {
                let refused = try await client.call(.get, "/api/v1/agents", key: limited.secret)
                #expect(refused.status == .tooManyRequests)
                #expect(refused["code"]?.string == "rate_limited")
                #expect(Int(refused.headers[.retryAfter] ?? "") ?? 0 >= 1)
                #expect(refused.headers[.contentType] == "application/problem+json")
            }
            // The admin key has the server default of 5; errors carry the headers too.
            let missing = try await client.call(.get, "/api/v1/agents/\(UUID().uuidString.lowercased())", key: admin)
            #expect(missing.status == .notFound && missing.headers[.init("RateLimit")!] != nil)
            // The refusal is audited in the background: wait for it without spending the admin's quota.
            try await eventually {
                try await !server.store.auditEvents(tenant: server.tenantA.tenantID, action: .rateLimited, page: PageRequest()).items.isEmpty
            }
            let reported = try await Self.audit(client, admin: admin, action: "rate_limit.exceeded")
            #expect(reported.count == 1, "one entry per run of refusals, not per request")
            #expect(reported.first?["actor"]?.string == limited.id && reported.first?["detail"]?["policy"]?.string == "credential")

            // A tenant limit covers all its keys together.
            #expect(try await client.call(.put, "/api/v1/security", key: admin, json: ["rate_limit": 1]).status == .ok)
            let other = try await server.store.createAPIKey(tenant: server.tenantA.tenantID, settings: APIKeySettings(name: "o", scopes: [.admin])).secret
            #expect(try await client.call(.get, "/api/v1/agents", key: other).status == .ok)
            let tenantRefused = try await client.call(.get, "/api/v1/agents", key: other)
            #expect(tenantRefused.status == .tooManyRequests, "the tenant's quota of 1 per minute is spent")
            #expect(tenantRefused["detail"]?.string?.contains("'tenant'") == true)
        }
    }

    @Test func repeatedFailedAuthenticationFromOneAddressIsRefusedWith429() async throws {
        let server = try await TestServer.make { $0.security.failedAuthenticationLimit = 3 }
        try await server.run { client in
            for _ in 0..<3 {
                #expect(try await client.call(.get, "/api/v1/agents", key: "sb_live_guess").status == .unauthorized)
            }
            let blocked = try await client.call(.get, "/api/v1/agents", key: "sb_live_guess")
            #expect(blocked.status == .tooManyRequests)
            #expect(blocked["code"]?.string == "too_many_failed_authentications")
            #expect(blocked.headers[.retryAfter] != nil)
            // Until the window refills, the address is not even checked.
            #expect(try await client.call(.get, "/api/v1/agents", key: server.tenantA.key).status == .tooManyRequests)
        }
    }

    @Test func allowListsAdmitOnlyTheirIPv4AndIPv6NetworksBehindATrustedProxy() async throws {
        let server = try await TestServer.make { $0.security.trustedProxies = [try IPAddressRange(parsing: "127.0.0.1")] }
        try await server.run { client in
            let admin = server.tenantA.key
            let key = try await Self.key(client, admin: admin, ["name": "office", "scopes": ["agents:read"], "allowed_ips": ["203.0.113.0/24", "2001:db8:1::/48"]])
            func status(_ forwarded: String, _ secret: String) async throws -> HTTPResponse.Status {
                try await client.call(.get, "/api/v1/agents", key: secret, headers: [.init("X-Forwarded-For")!: forwarded]).status
            }
            #expect(try await status("203.0.113.7", key.secret) == .ok)
            #expect(try await status("2001:db8:1::5", key.secret) == .ok)
            #expect(try await status("198.51.100.1", key.secret) == .forbidden)
            #expect(try await status("2001:db8:2::1", key.secret) == .forbidden)
            // Hops are read from the right: a client cannot put an allowed address in front of its own.
            #expect(try await status("203.0.113.7, 198.51.100.1", key.secret) == .forbidden)

            // The tenant's list applies to every key, the admin's too.
            let put = try await client.call(.put, "/api/v1/security", key: admin, json: ["allowed_ips": ["192.0.2.0/24", "2001:db8::/32"]])
            #expect(put["allowed_ips"]?.array == ["192.0.2.0/24", "2001:db8::/32"])
            #expect(try await status("192.0.2.10", admin) == .ok)
            #expect(try await status("203.0.113.7", admin) == .forbidden)
            #expect(try await status("2001:db8:1::5", key.secret) == .ok, "inside both lists")
            #expect(try await status("203.0.113.7", key.secret) == .forbidden, "inside the key's list only")

            let entries = try await Self.audit(client, admin: admin, action: "access.denied", count: 5, headers: [.init("X-Forwarded-For")!: "192.0.2.10"])
            #expect(entries.count == 5)
            #expect(entries.contains { $0["client_ip"]?.string == "2001:db8:2::1" && $0["detail"]?["allow_list"]?.string == "credential" })
            #expect(entries.contains { $0["client_ip"]?.string == "203.0.113.7" && $0["detail"]?["allow_list"]?.string == "tenant" })
        }
    }

    @Test func forwardedForIsIgnoredFromAnUntrustedPeer() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let key = try await Self.key(client, admin: server.tenantA.key, ["name": "office", "scopes": ["agents:read"], "allowed_ips": ["203.0.113.0/24"]])
            let spoofed = try await client.call(.get, "/api/v1/agents", key: key.secret, headers: [.init("X-Forwarded-For")!: "203.0.113.7"])
            #expect(spoofed.status == .forbidden && spoofed["code"]?.string == "address_not_allowed")
            let loopback = try await Self.key(client, admin: server.tenantA.key, ["name": "local", "scopes": ["agents:read"], "allowed_ips": ["127.0.0.0/8"]])
            #expect(try await client.call(.get, "/api/v1/agents", key: loopback.secret).status == .ok)
        }
    }

    @Test func addressRangesParseAndMatchIPv4AndIPv6() throws {
        let v4 = try IPAddressRange(parsing: "10.1.2.3/8")
        #expect(v4.description == "10.0.0.0/8")
        #expect(v4.contains("10.255.0.1") && !v4.contains("11.0.0.1"))
        #expect(v4.contains("::ffff:10.0.0.1"), "IPv4-mapped IPv6 matches IPv4 ranges")
        let v6 = try IPAddressRange(parsing: "2001:db8::/33")
        #expect(v6.contains("2001:db8:7fff::1") && !v6.contains("2001:db8:8000::1"))
        #expect(try IPAddressRange(parsing: "::1").contains("[::1]"))
        #expect(try IPAddressRange(parsing: "0.0.0.0/0").contains("198.51.100.1"))
        for bad in ["10.0.0.0/33", "2001:db8::/129", "example.com", "10.0.0.0/", "1.2.3"] {
            #expect(throws: SwitchboardError.self, "\(bad)") { try IPAddressRange(parsing: bad) }
        }
    }
}
