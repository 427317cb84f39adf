import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SwitchboardCore
import Testing

@Suite(.timeLimit(.minutes(5))) struct AgentRoutesTests {
    @Test func agentLifecycleOverHTTP() async throws {
        let server = try await TestServer.make()
        let key = server.tenantA.key
        try await server.run { client in
            let created = try await client.call(.post, "/api/v1/agents", key: key, json: ["name": " Alice ", "email": "alice@example.com"])
            #expect(created.status == .created)
            #expect(created["name"]?.string == "Alice")
            #expect(created["status"]?.string == "offline")
            #expect(created["max_concurrent"]?.int == 5)
            #expect(created.headers[.eTag] == "\"1\"")
            let id = try #require(created["id"]?.string)
            #expect(created.headers[.location] == "/api/v1/agents/\(id)")

            let read = try await client.call(.get, "/api/v1/agents/\(id)", key: key)
            #expect(read.status == .ok)
            #expect(read.json == created.json)

            let updated = try await client.call(.put, "/api/v1/agents/\(id)", key: key, json: ["status": "online", "max_concurrent": 3])
            #expect(updated.status == .ok)
            #expect(updated["status"]?.string == "online")
            #expect(updated["version"]?.int == 2)
            #expect(updated.headers[.eTag] == "\"2\"")
            // The first read cached the agent and its body; the change replaces both.
            let reread = try await client.call(.get, "/api/v1/agents/\(id)", key: key)
            #expect(reread.json == updated.json)
            #expect(reread.headers[.eTag] == "\"2\"")

            let online = try await client.call(.get, "/api/v1/agents?status=online", key: key)
            #expect(online["data"]?.array.compactMap { $0["id"]?.string } == [id])
            let offline = try await client.call(.get, "/api/v1/agents?status=offline", key: key)
            #expect(offline["data"]?.array.isEmpty == true)

            let deleted = try await client.call(.delete, "/api/v1/agents/\(id)", key: key)
            #expect(deleted.status == .ok)
            #expect(deleted["deleted_at"]?.string != nil)
            let tombstone = try await client.call(.get, "/api/v1/agents/\(id)", key: key)
            #expect(tombstone.status == .ok)
            #expect(tombstone["deleted_at"] == deleted["deleted_at"])
            let list = try await client.call(.get, "/api/v1/agents", key: key)
            #expect(list["data"]?.array.isEmpty == true)
            let changeDeleted = try await client.call(.put, "/api/v1/agents/\(id)", key: key, json: ["name": "Zombie"])
            #expect(changeDeleted.status == .conflict)
            #expect(changeDeleted["code"]?.string == "agent_deleted")

            let events = try await client.call(.get, "/api/v1/events", key: key)
            let types = events["data"]?.array.compactMap { $0["event"]?.string }
            #expect(types == ["agent.created", "agent.updated", "agent.status_changed", "agent.deleted"])
            let statusChange = events["data"]?.array[2]["data"]
            #expect(statusChange?["agent_id"]?.string == id)
            #expect(statusChange?["status"]?.string == "online")
        }
    }

    @Test func invalidAgentInputNamesTheField() async throws {
        let server = try await TestServer.make()
        let key = server.tenantA.key
        try await server.run { client in
            let cases: [(String, HTTPResponse.Status, String, String?)] = [
                (#"{"email":"a@b.io"}"#, .unprocessableContent, "missing_field", "name"),
                (#"{"name":""}"#, .unprocessableContent, "invalid_field", "name"),
                (#"{"name":"A","email":"nope"}"#, .unprocessableContent, "invalid_field", "email"),
                (#"{"name":"A","status":"sleeping"}"#, .unprocessableContent, "invalid_field", "status"),
                (#"{"name":"A","max_concurrent":0}"#, .unprocessableContent, "invalid_field", "max_concurrent"),
                (#"{"name":"A","max_concurrent":"3"}"#, .unprocessableContent, "invalid_field", "max_concurrent"),
                (#"{"name":"A","max_concurrent":1.5}"#, .unprocessableContent, "invalid_field", "max_concurrent"),
                (#"{"name":"A","max_concurrent":1e30}"#, .unprocessableContent, "invalid_field", "max_concurrent"),
                (#"{"name":"A","nickname":"a"}"#, .unprocessableContent, "unknown_field", "nickname"),
                (#"{"name":"A""#, .badRequest, "invalid_json", nil),
                (#"["name"]"#, .badRequest, "invalid_json", nil),
                ("", .badRequest, "missing_body", nil),
            ]
            for (body, status, code, field) in cases {
                let response = try await client.call(.post, "/api/v1/agents", key: key, body: body)
                #expect(response.status == status, "\(body)")
                #expect(response.headers[.contentType] == "application/problem+json")
                #expect(response["code"]?.string == code, "\(body)")
                #expect(response["field"]?.string == field, "\(body)")
                #expect(response["status"]?.int == status.code)
            }
            let events = try await client.call(.get, "/api/v1/events", key: key)
            #expect(events["data"]?.array.isEmpty == true)
        }
    }

    @Test func queryParametersAreValidated() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            for uri in ["/api/v1/agents?limit=0", "/api/v1/agents?limit=201", "/api/v1/agents?limit=x", "/api/v1/agents?cursor=%%%", "/api/v1/agents?status=asleep"] {
                let response = try await client.call(.get, uri, key: server.tenantA.key)
                #expect(response.status == .badRequest, "\(uri)")
                #expect(response["code"]?.string == "invalid_parameter")
            }
        }
    }
}
