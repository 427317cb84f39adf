import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SwitchboardCore
import Testing

@Suite(.timeLimit(.minutes(5))) struct EventLogRoutesTests {
    @Test func everyMutationAppearsOnceInCommitOrderWithConsecutiveSeq() async throws {
        let server = try await TestServer.make()
        let key = server.tenantA.key
        try await server.run { client in
            let fixtures = Fixtures(client: client, key: key)
            let conversation = try await fixtures.conversation()
            let message = try #require(try await fixtures.message(in: conversation.id, from: conversation.visitor)["id"]?.string)
            _ = try await client.call(.put, "/api/v1/messages/\(message)", key: key, json: ["content": "edited"])
            _ = try await client.call(.put, "/api/v1/messages/\(message)", key: key, json: ["content": "edited"])
            _ = try await client.call(.delete, "/api/v1/messages/\(message)", key: key)
            _ = try await client.call(.put, "/api/v1/agents/\(conversation.agent)", key: key, json: ["status": "busy"])
            _ = try await client.call(.delete, "/api/v1/conversations/\(conversation.id)", key: key)
            _ = try await client.call(.delete, "/api/v1/conversations/\(conversation.id)", key: key)

            let all = try await client.call(.get, "/api/v1/events", key: key)["data"]?.array ?? []
            #expect(all.compactMap { $0["seq"]?.int } == Array(1...all.count))
            #expect(
                all.compactMap { $0["event"]?.string } == [
                    "agent.created", "conversation.created", "message.received", "message.updated", "message.deleted", "agent.updated",
                    "agent.status_changed", "conversation.ended",
                ]
            )
            for event in all {
                #expect(event["tenant_id"]?.string == server.tenantA.tenantID)
                #expect(event["version"]?.int == 1)
                #expect(event["timestamp"]?.int != nil)
                #expect(event["id"]?.string != nil)
            }

            let page = try await client.call(.get, "/api/v1/events?after=2&limit=3", key: key)
            #expect(page["data"]?.array.compactMap { $0["seq"]?.int } == [3, 4, 5])
            #expect(page["has_more"] == .bool(true))
            #expect(page["next_cursor"]?.string == "5")
            let rest = try await client.call(.get, "/api/v1/events?cursor=5", key: key)
            #expect(rest["data"]?.array.compactMap { $0["seq"]?.int } == [6, 7, 8])
            #expect(rest["has_more"] == .bool(false))
            let bad = try await client.call(.get, "/api/v1/events?after=-1", key: key)
            #expect(bad.status == .badRequest)
        }
    }

    @Test func eightConcurrentWritersProduceAGapFreeSequence() async throws {
        let server = try await TestServer.make()
        let key = server.tenantA.key
        try await server.run { client in
            let conversation = try await Fixtures(client: client, key: key).conversation()
            let statuses = try await withThrowingTaskGroup(of: [HTTPResponse.Status].self) { group in
                for writer in 0..<8 {
                    group.addTask {
                        var statuses: [HTTPResponse.Status] = []
                        let fixtures = Fixtures(client: client, key: key)
                        for index in 0..<25 {
                            statuses.append(try await fixtures.message(in: conversation.id, from: conversation.visitor, "w\(writer)-\(index)").status)
                            if index.isMultiple(of: 5) {
                                // A failing write inside the same group commits must leave no trace.
                                statuses.append(try await fixtures.message(in: conversation.id, from: "intruder").status)
                            }
                        }
                        return statuses
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(statuses.filter { $0 == .created }.count == 200)
            #expect(statuses.filter { $0 == .unprocessableContent }.count == 40)
            var events: [JSONValue] = []
            var after = 0
            while true {
                let page = try await client.call(.get, "/api/v1/events?after=\(after)&limit=1000", key: key)["data"]?.array ?? []
                guard let last = page.last?["seq"]?.int else { break }
                events += page
                after = last
            }
            #expect(events.compactMap { $0["seq"]?.int } == Array(1...202))
            let messages = events.filter { $0["event"]?.string == "message.received" }
            #expect(messages.count == 200)
            #expect(Set(messages.compactMap { $0["data"]?["message_id"]?.string }).count == 200)
        }
    }
}
