import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SwitchboardCore
import Testing

@Suite(.timeLimit(.minutes(5))) struct ConventionsTests {
    @Test func idempotencyKeyReplaysTheOriginalResponse() async throws {
        let server = try await TestServer.make()
        let key = server.tenantA.key
        try await server.run { client in
            let headers: HTTPFields = [.init("Idempotency-Key")!: "create-alice"]
            let first = try await client.call(.post, "/api/v1/agents", key: key, json: ["name": "Alice"], headers: headers)
            let replay = try await client.call(.post, "/api/v1/agents", key: key, json: ["name": "Alice"], headers: headers)
            #expect(first.status == .created)
            #expect(replay.status == .created)
            #expect(replay.json == first.json)
            #expect(replay.headers[.init("Idempotent-Replayed")!] == "true")
            #expect(replay.headers[.eTag] == first.headers[.eTag])

            let other = try await client.call(.post, "/api/v1/agents", key: key, json: ["name": "Bob"], headers: headers)
            #expect(other.status == .unprocessableContent)
            #expect(other["code"]?.string == "idempotency_key_reused")

            let otherTenant = try await client.call(.post, "/api/v1/agents", key: server.tenantB.key, json: ["name": "Alice"], headers: headers)
            #expect(otherTenant.status == .created)
            #expect(otherTenant["id"] != first["id"])

            let agents = try await client.call(.get, "/api/v1/agents", key: key)
            #expect(agents["data"]?.array.count == 1)
            let events = try await client.call(.get, "/api/v1/events", key: key)
            #expect(events["data"]?.array.count == 1)
        }
    }

    @Test func concurrentRequestsWithOneIdempotencyKeyCreateOneResource() async throws {
        let server = try await TestServer.make()
        let key = server.tenantA.key
        try await server.run { client in
            let responses = try await withThrowingTaskGroup(of: APIResponse.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        try await client.call(.post, "/api/v1/agents", key: key, json: ["name": "Once"], headers: [.init("Idempotency-Key")!: "k"])
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(Set(responses.compactMap { $0["id"]?.string }).count == 1)
            let agents = try await client.call(.get, "/api/v1/agents", key: key)
            #expect(agents["data"]?.array.count == 1)
        }
    }

    @Test func ifMatchGuardsUpdates() async throws {
        let server = try await TestServer.make()
        let key = server.tenantA.key
        try await server.run { client in
            let id = try await Fixtures(client: client, key: key).agent()
            let stale = try await client.call(.put, "/api/v1/agents/\(id)", key: key, json: ["name": "B"], headers: [.ifMatch: "\"7\""])
            #expect(stale.status == .preconditionFailed)
            #expect(stale["code"]?.string == "version_mismatch")
            let malformed = try await client.call(.put, "/api/v1/agents/\(id)", key: key, json: ["name": "B"], headers: [.ifMatch: "W/\"1\""])
            #expect(malformed.status == .preconditionFailed)
            let current = try await client.call(.put, "/api/v1/agents/\(id)", key: key, json: ["name": "B"], headers: [.ifMatch: "\"1\""])
            #expect(current.status == .ok)
            #expect(current.headers[.eTag] == "\"2\"")
            let again = try await client.call(.put, "/api/v1/agents/\(id)", key: key, json: ["name": "C"], headers: [.ifMatch: "\"1\""])
            #expect(again.status == .preconditionFailed)
            let any = try await client.call(.put, "/api/v1/agents/\(id)", key: key, json: ["name": "C"], headers: [.ifMatch: "*"])
            #expect(any.status == .ok)
        }
    }

    @Test func bodiesOverTheLimitGet413() async throws {
        let server = try await TestServer.make { $0.server.bodyLimit = 2_048 }
        try await server.run { client in
            let big = String(repeating: "x", count: 4_096)
            let response = try await client.call(.post, "/api/v1/agents", key: server.tenantA.key, json: ["name": .string(big)])
            #expect(response.status == .contentTooLarge)
            #expect(response["code"]?.string == "body_too_large")
            let small = try await client.call(.post, "/api/v1/agents", key: server.tenantA.key, json: ["name": "ok"])
            #expect(small.status == .created)
        }
    }

    @Test func credentialsAreRequiredAndRevocable() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let missing = try await client.call(.get, "/api/v1/agents", key: nil)
            #expect(missing.status == .unauthorized)
            #expect(missing.headers[.wwwAuthenticate] != nil)
            #expect(missing["code"]?.string == "unauthenticated")
            let wrong = try await client.call(.get, "/api/v1/agents", key: "sb_live_not-a-real-key")
            #expect(wrong.status == .unauthorized)
            let header = try await client.call(.get, "/api/v1/agents", key: nil, headers: [.init("X-API-Key")!: server.tenantA.key])
            #expect(header.status == .ok)

            let (key, secret) = try await server.store.createAPIKey(tenant: server.tenantA.tenantID, settings: APIKeySettings(name: "temp", scopes: [.admin]))
            #expect(try await client.call(.get, "/api/v1/agents", key: secret).status == .ok)
            #expect(try await client.call(.delete, "/api/v1/api-keys/\(key.id)", key: server.tenantA.key).status == .ok)
            #expect(try await client.call(.get, "/api/v1/agents", key: secret).status == .unauthorized)
        }
    }

    @Test func unknownRoutesAndSystemRoutes() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let unknown = try await client.call(.get, "/api/v1/unknown", key: server.tenantA.key)
            #expect(unknown.status == .notFound)
            #expect(unknown["code"]?.string == "route_not_found")
            #expect(unknown.headers[.init("X-Request-Id")!] == unknown["request_id"]?.string)
            let health = try await client.call(.get, "/health", key: nil)
            #expect(health["status"]?.string == "ok")
            let ready = try await client.call(.get, "/ready", key: nil)
            #expect(ready["status"]?.string == "ready")
            let echoed = try await client.call(.get, "/health", key: nil, headers: [.init("X-Request-Id")!: "trace-123"])
            #expect(echoed.headers[.init("X-Request-Id")!] == "trace-123")
        }
    }
}
