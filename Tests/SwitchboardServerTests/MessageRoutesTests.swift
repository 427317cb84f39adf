import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SwitchboardCore
import Testing

@Suite(.timeLimit(.minutes(5))) struct MessageRoutesTests {
    @Test func messagesAreSentEditedAndTombstoned() async throws {
        let server = try await TestServer.make()
        let key = server.tenantA.key
        try await server.run { client in
            let fixtures = Fixtures(client: client, key: key)
            let conversation = try await fixtures.conversation()
            let sent = try await fixtures.message(in: conversation.id, from: conversation.visitor, "Where is my order?")
            #expect(sent.status == .created)
            #expect(sent["to"]?.string == conversation.agent)
            #expect(sent["content_type"]?.string == "text/plain")
            let id = try #require(sent["id"]?.string)

            let edited = try await client.call(.put, "/api/v1/messages/\(id)", key: key, json: ["content": "Where is order A-1?"])
            #expect(edited.status == .ok)
            #expect(edited["content"]?.string == "Where is order A-1?")
            #expect(edited["edited_at"]?.string != nil)

            let deleted = try await client.call(.delete, "/api/v1/messages/\(id)", key: key)
            #expect(deleted.status == .ok)
            #expect(deleted["content"]?.string == "")
            #expect(deleted["deleted_at"]?.string != nil)
            let tombstone = try await client.call(.get, "/api/v1/messages/\(id)", key: key)
            #expect(tombstone["deleted_at"] == deleted["deleted_at"])
            let editDeleted = try await client.call(.put, "/api/v1/messages/\(id)", key: key, json: ["content": "again"])
            #expect(editDeleted.status == .conflict)
            #expect(editDeleted["code"]?.string == "message_deleted")

            let listed = try await client.call(.get, "/api/v1/conversations/\(conversation.id)/messages", key: key)
            #expect(listed["data"]?.array.count == 1)

            let events = try await client.call(.get, "/api/v1/events?after=2", key: key)
            let types = events["data"]?.array.compactMap { $0["event"]?.string }
            #expect(types == ["message.received", "message.updated", "message.deleted"])
            let received = events["data"]?.array.first?["data"]
            #expect(received?["message_id"]?.string == id)
            #expect(received?["conversation_id"]?.string == conversation.id)
            #expect(received?["content"]?.string == "Where is my order?")
        }
    }

    @Test func onlyParticipantsMaySend() async throws {
        let server = try await TestServer.make()
        let key = server.tenantA.key
        try await server.run { client in
            let fixtures = Fixtures(client: client, key: key)
            let conversation = try await fixtures.conversation()
            let stranger = try await fixtures.message(in: conversation.id, from: "somebody-else")
            #expect(stranger.status == .unprocessableContent)
            #expect(stranger["field"]?.string == "from")
            let toSelf = try await client.call(
                .post,
                "/api/v1/messages",
                key: key,
                json: [
                    "conversation_id": .string(conversation.id), "from": .string(conversation.agent), "to": .string(conversation.agent),
                    "content": "hi",
                ]
            )
            #expect(toSelf["field"]?.string == "to")
            let missing = try await client.call(
                .post,
                "/api/v1/messages",
                key: key,
                json: ["conversation_id": .string(TimeOrderedIDGenerator.shared.make()), "from": "x", "content": "hi"]
            )
            #expect(missing["code"]?.string == "conversation_not_found")
            let empty = try await fixtures.message(in: conversation.id, from: conversation.visitor, "")
            #expect(empty["field"]?.string == "content")
        }
    }

    @Test func repeatedClientMessageIDReturnsTheOriginal() async throws {
        let server = try await TestServer.make()
        let key = server.tenantA.key
        try await server.run { client in
            let conversation = try await Fixtures(client: client, key: key).conversation()
            let body: JSONValue = [
                "conversation_id": .string(conversation.id), "from": .string(conversation.visitor), "content": "once",
                "client_message_id": "c-1",
            ]
            let first = try await client.call(.post, "/api/v1/messages", key: key, json: body)
            let second = try await client.call(.post, "/api/v1/messages", key: key, json: body)
            #expect(first.status == .created)
            #expect(second.status == .ok)
            #expect(second["id"] == first["id"])
            let events = try await client.call(.get, "/api/v1/events", key: key)
            #expect(events["data"]?.array.filter { $0["event"]?.string == "message.received" }.count == 1)
        }
    }

    @Test func walkingTwoHundredFiftyMessagesByCursorHasNoGapOrDuplicate() async throws {
        let server = try await TestServer.make()
        let key = server.tenantA.key
        try await server.run { client in
            let fixtures = Fixtures(client: client, key: key)
            let conversation = try await fixtures.conversation()
            var sent: [String] = []
            for index in 0..<250 {
                let response = try await fixtures.message(in: conversation.id, from: index.isMultiple(of: 2) ? conversation.visitor : conversation.agent, "m\(index)")
                sent.append(try #require(response["id"]?.string))
            }
            var seen: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let query = "limit=40" + (cursor.map { "&cursor=\($0)" } ?? "")
                let page = try await client.call(.get, "/api/v1/conversations/\(conversation.id)/messages?\(query)", key: key)
                #expect(page.status == .ok)
                seen += page["data"]?.array.compactMap { $0["id"]?.string } ?? []
                cursor = page["next_cursor"]?.string
                #expect(page["has_more"] == .bool(cursor != nil))
                pages += 1
            } while cursor != nil && pages < 20
            #expect(pages == 7)
            #expect(seen == sent)
            #expect(Set(seen).count == 250)
        }
    }
}
