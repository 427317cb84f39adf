import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SwitchboardCore
import Testing

@Suite(.timeLimit(.minutes(5))) struct TenantIsolationTests {
    @Test func tenantBGets404OnEveryIdOfTenantA() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let a = Fixtures(client: client, key: server.tenantA.key)
            let conversation = try await a.conversation()
            let message = try #require(try await a.message(in: conversation.id, from: conversation.visitor)["id"]?.string)
            let b = server.tenantB.key
            let reads = [
                "/api/v1/agents/\(conversation.agent)", "/api/v1/visitors/\(conversation.visitor)",
                "/api/v1/conversations/\(conversation.id)", "/api/v1/conversations/\(conversation.id)/messages",
                "/api/v1/messages/\(message)",
            ]
            for uri in reads {
                let response = try await client.call(.get, uri, key: b)
                #expect(response.status == .notFound, "\(uri)")
                #expect(response.headers[.contentType] == "application/problem+json")
            }
            let writes: [(HTTPRequest.Method, String, JSONValue?)] = [
                (.put, "/api/v1/agents/\(conversation.agent)", ["name": "x"]),
                (.delete, "/api/v1/agents/\(conversation.agent)", nil),
                (.put, "/api/v1/conversations/\(conversation.id)", ["status": "pending"]),
                (.delete, "/api/v1/conversations/\(conversation.id)", nil),
                (.put, "/api/v1/messages/\(message)", ["content": "x"]),
                (.delete, "/api/v1/messages/\(message)", nil),
            ]
            for (method, uri, body) in writes {
                let response =
                    if let body { try await client.call(method, uri, key: b, json: body) } else { try await client.call(method, uri, key: b) }
                #expect(response.status == .notFound, "\(method) \(uri)")
            }
            let sendInto = try await client.call(
                .post,
                "/api/v1/messages",
                key: b,
                json: ["conversation_id": .string(conversation.id), "from": .string(conversation.visitor), "content": "x"]
            )
            #expect(sendInto.status == .unprocessableContent)
            for uri in ["/api/v1/agents", "/api/v1/conversations", "/api/v1/events"] {
                let list = try await client.call(.get, uri, key: b)
                #expect(list["data"]?.array.isEmpty == true, "\(uri)")
            }
            let stillThere = try await client.call(.get, "/api/v1/messages/\(message)", key: server.tenantA.key)
            #expect(stillThere["content"]?.string == "hello")
        }
    }
}
