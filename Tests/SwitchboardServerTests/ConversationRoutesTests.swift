import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SwitchboardCore
import Testing

@Suite(.timeLimit(.minutes(5))) struct ConversationRoutesTests {
    @Test func conversationLifecycleEndsClosedAndReadable() async throws {
        let server = try await TestServer.make()
        let key = server.tenantA.key
        try await server.run { client in
            let fixtures = Fixtures(client: client, key: key)
            let visitor = try await fixtures.visitor()
            let agent = try await fixtures.agent()
            let created = try await client.call(
                .post,
                "/api/v1/conversations",
                key: key,
                json: ["visitor_id": .string(visitor), "subject": "Refund", "metadata": ["order": "A-1"]]
            )
            #expect(created.status == .created)
            #expect(created["status"]?.string == "open")
            #expect(created["agent_id"] == .null)
            #expect(created["channel"]?.string == "web")
            let id = try #require(created["id"]?.string)

            let assigned = try await client.call(.put, "/api/v1/conversations/\(id)", key: key, json: ["agent_id": .string(agent), "status": "pending"])
            #expect(assigned.status == .ok)
            #expect(assigned["agent_id"]?.string == agent)
            #expect(assigned["status"]?.string == "pending")

            let byAgent = try await client.call(.get, "/api/v1/conversations?agent_id=\(agent)&status=pending", key: key)
            #expect(byAgent["data"]?.array.compactMap { $0["id"]?.string } == [id])
            let byVisitor = try await client.call(.get, "/api/v1/conversations?visitor_id=\(visitor)", key: key)
            #expect(byVisitor["data"]?.array.count == 1)
            let open = try await client.call(.get, "/api/v1/conversations?status=open", key: key)
            #expect(open["data"]?.array.isEmpty == true)

            let unassigned = try await client.call(.put, "/api/v1/conversations/\(id)", key: key, body: #"{"agent_id":null}"#)
            #expect(unassigned["agent_id"] == .null)

            let unknownAgent = try await client.call(
                .put,
                "/api/v1/conversations/\(id)",
                key: key,
                json: ["agent_id": .string(TimeOrderedIDGenerator.shared.make())]
            )
            #expect(unknownAgent.status == .unprocessableContent)
            #expect(unknownAgent["field"]?.string == "agent_id")
            let changeVisitor = try await client.call(.put, "/api/v1/conversations/\(id)", key: key, json: ["visitor_id": .string(visitor)])
            #expect(changeVisitor.status == .unprocessableContent)

            let ended = try await client.call(.delete, "/api/v1/conversations/\(id)", key: key)
            #expect(ended.status == .ok)
            #expect(ended["status"]?.string == "closed")
            #expect(ended["ended_at"]?.string != nil)
            let read = try await client.call(.get, "/api/v1/conversations/\(id)", key: key)
            #expect(read.status == .ok)
            #expect(read["status"]?.string == "closed")

            let reopen = try await client.call(.put, "/api/v1/conversations/\(id)", key: key, json: ["status": "open"])
            #expect(reopen.status == .conflict)
            #expect(reopen["code"]?.string == "conversation_closed")
            let message = try await fixtures.message(in: id, from: visitor)
            #expect(message.status == .conflict)
            #expect(message["code"]?.string == "conversation_closed")

            let events = try await client.call(.get, "/api/v1/events", key: key)
            let types = events["data"]?.array.compactMap { $0["event"]?.string }
            #expect(
                types == [
                    "agent.created", "conversation.created", "conversation.updated", "conversation.updated", "conversation.ended",
                ]
            )
            let createdEvent = events["data"]?.array[1]["data"]
            #expect(createdEvent?["conversation_id"]?.string == id)
            #expect(createdEvent?["visitor_id"]?.string == visitor)
        }
    }

    /// An integer beyond 2^53 in metadata comes back exactly as it was sent.
    @Test func largeIntegersInMetadataAreKeptExactly() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let key = server.tenantA.key
            let visitor = try await Fixtures(client: client, key: key).visitor()
            let body = #"{"visitor_id": "\#(visitor)", "metadata": {"crm_id": 9223372036854775807, "odd": 9007199254740993, "rate": 0.1}}"#
            let created = try await client.call(.post, "/api/v1/conversations", key: key, body: body)
            let read = try await client.execute(uri: "/api/v1/conversations/\(try created.string("id"))", method: .get, headers: [.authorization: "Bearer \(key)"])
            let text = String(buffer: read.body)
            #expect(text.contains(#""crm_id":9223372036854775807"#) && text.contains(#""odd":9007199254740993"#) && text.contains(#""rate":0.1"#), "\(text)")
        }
    }

    @Test func conversationNeedsAVisitorOfTheTenant() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let otherVisitor = try await Fixtures(client: client, key: server.tenantB.key).visitor()
            let response = try await client.call(.post, "/api/v1/conversations", key: server.tenantA.key, json: ["visitor_id": .string(otherVisitor)])
            #expect(response.status == .unprocessableContent)
            #expect(response["code"]?.string == "visitor_not_found")
            #expect(response["field"]?.string == "visitor_id")
            let closed = try await client.call(
                .post,
                "/api/v1/conversations",
                key: server.tenantA.key,
                json: ["visitor_id": .string(otherVisitor), "status": "closed"]
            )
            #expect(closed.status == .unprocessableContent)
            #expect(closed["field"]?.string == "status")
        }
    }

    @Test func visitorsAreCreatedAndExternalIDsAreUnique() async throws {
        let server = try await TestServer.make()
        let key = server.tenantA.key
        try await server.run { client in
            let created = try await client.call(.post, "/api/v1/visitors", key: key, json: ["external_id": "crm-42", "name": "Vera"])
            #expect(created.status == .created)
            let id = try #require(created["id"]?.string)
            let read = try await client.call(.get, "/api/v1/visitors/\(id)", key: key)
            #expect(read["external_id"]?.string == "crm-42")
            let duplicate = try await client.call(.post, "/api/v1/visitors", key: key, json: ["external_id": "crm-42"])
            #expect(duplicate.status == .conflict)
            #expect(duplicate["code"]?.string == "visitor_exists")
            let otherTenant = try await client.call(.post, "/api/v1/visitors", key: server.tenantB.key, json: ["external_id": "crm-42"])
            #expect(otherTenant.status == .created)
        }
    }
}
