import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SwitchboardCore
import SwitchboardTestSupport
import Testing

/// Customers, orders and tickets over REST, with their events.
@Suite(.timeLimit(.minutes(5))) struct CRMRoutesTests {
    static func events(_ client: any TestClientProtocol, key: String, after seq: Int) async throws -> [JSONValue] {
        try await client.call(.get, "/api/v1/events?after=\(seq)&limit=200", key: key)["data"]?.array ?? []
    }

    @Test func customersUpsertSearchChangeAndDelete() async throws {
        let server = try await TestServer.make()
        let key = server.tenantA.key
        try await server.run { client in
            let visitor = try await Fixtures(client: client, key: key).visitor()
            let start = try await Self.events(client, key: key, after: 0).count

            let body: JSONValue = [
                "customer_id": "C-1001", "name": "Ada Lovelace", "phone": "+44 (20) 7946-0001", "level": 3,
                "tags": ["vip", "uk", "vip"], "visitor_ids": [.string(visitor)],
            ]
            let created = try await client.call(.post, "/api/v1/customers", key: key, json: body)
            #expect(created.status == .created, "\(created.json)")
            #expect(created.headers[.location] == "/api/v1/customers/C-1001")
            #expect(created["level"]?.string == "3")
            #expect(created["tags"] == ["vip", "uk"])
            #expect(created["source"]?.string == "api")
            let unchanged = try await client.call(.post, "/api/v1/customers", key: key, json: body)
            #expect(unchanged.status == .ok)
            #expect(unchanged["version"]?.int == 1)
            let changed = try await client.call(.post, "/api/v1/customers", key: key, json: ["customer_id": "C-1001", "level": "gold"])
            #expect(changed.status == .ok)
            #expect(changed["level"]?.string == "gold")
            #expect(changed["name"]?.string == "Ada Lovelace", "absent fields keep their value")
            #expect(changed["version"]?.int == 2)
            _ = try await client.call(.post, "/api/v1/customers", key: key, json: ["customer_id": "C-1002", "name": "Bob", "phone": "555 0100", "tags": ["uk"]])

            func ids(_ query: String) async throws -> [String] {
                try await client.call(.get, "/api/v1/customers?\(query)", key: key)["data"]?.array.compactMap { $0["customer_id"]?.string } ?? []
            }
            #expect(try await ids("phone=442079460001") == ["C-1001"], "phones match on their digits")
            #expect(try await ids("phone=%2B44%2020%207946%200001") == ["C-1001"])
            #expect(try await ids("tag=uk") == ["C-1001", "C-1002"])
            #expect(try await ids("tag=vip") == ["C-1001"])
            #expect(try await ids("level=gold") == ["C-1001"])
            #expect(try await ids("visitor_id=\(visitor)") == ["C-1001"])
            #expect(try await client.call(.get, "/api/v1/customers?phone=abc", key: key).status == .badRequest)

            // PUT: If-Match, unknown customer, an id that cannot change.
            let stale = try await client.call(.put, "/api/v1/customers/C-1001", key: key, json: ["name": "Ada"], headers: [.ifMatch: "\"1\""])
            #expect(stale.status == .preconditionFailed)
            let put = try await client.call(.put, "/api/v1/customers/C-1001", key: key, json: ["name": "Ada"], headers: [.ifMatch: "\"2\""])
            #expect(put.status == .ok)
            #expect(put["name"]?.string == "Ada")
            #expect(try await client.call(.put, "/api/v1/customers/C-404", key: key, json: ["name": "X"]).status == .notFound)
            let renamed = try await client.call(.put, "/api/v1/customers/C-1001", key: key, json: ["customer_id": "C-9"])
            #expect(renamed.status == .unprocessableContent)
            #expect(renamed["field"]?.string == "customer_id")

            // Bad inputs name their field.
            let bad: [(JSONValue, String)] = [
                (["name": "no id"], "customer_id"), (["customer_id": "a/b"], "customer_id"), (["customer_id": "C-1", "phone": "call me"], "phone"),
                (["customer_id": "C-1", "email": "nope"], "email"), (["customer_id": "C-1", "visitor_ids": ["01a22222-0000-7000-8000-000000000000"]], "visitor_ids"),
            ]
            for (input, field) in bad {
                let answer = try await client.call(.post, "/api/v1/customers", key: key, json: input)
                #expect(answer.status == .unprocessableContent || answer.status == .badRequest, "\(input): \(answer.json)")
                #expect(answer["field"]?.string == field, "\(input): \(answer.json)")
            }
            #expect(try await client.call(.get, "/api/v1/customers/C-1", key: key).status == .notFound, "nothing of a refused write is kept")

            // Tenant B sees none of it.
            #expect(try await client.call(.get, "/api/v1/customers/C-1001", key: server.tenantB.key).status == .notFound)
            #expect(try await client.call(.get, "/api/v1/customers", key: server.tenantB.key)["data"]?.array.isEmpty == true)

            let deleted = try await client.call(.delete, "/api/v1/customers/C-1002", key: key)
            #expect(deleted.status == .noContent)
            #expect(try await client.call(.get, "/api/v1/customers/C-1002", key: key).status == .notFound)
            #expect(try await client.call(.delete, "/api/v1/customers/C-1002", key: key).status == .notFound)

            let events = try await Self.events(client, key: key, after: start)
            #expect(events.compactMap { $0["event"]?.string } == ["customer.synced", "customer.synced", "customer.synced", "customer.synced", "customer.deleted"])
            #expect(events.first?["data"]?["customer_id"]?.string == "C-1001")
            #expect(events.first?["data"]?["created"] == .bool(true))
            #expect(events.first?["data"]?["phone"]?.string == "+44 (20) 7946-0001")
        }
    }

    @Test func ordersLinkToTheirCustomer() async throws {
        let server = try await TestServer.make()
        let key = server.tenantA.key
        try await server.run { client in
            let orphan = try await client.call(.post, "/api/v1/orders", key: key, json: ["order_id": "O-1", "customer_id": "C-1", "amount": 10, "status": "paid"])
            #expect(orphan.status == .unprocessableContent)
            #expect(orphan["field"]?.string == "customer_id")
            _ = try await client.call(.post, "/api/v1/customers", key: key, json: ["customer_id": "C-1", "name": "Ada"])
            let start = try await Self.events(client, key: key, after: 0).count

            let order: JSONValue = ["order_id": "O-1", "customer_id": "C-1", "amount": .number(99.5), "currency": "EUR", "status": "paid", "create_time": 1_764_000_000]
            let created = try await client.call(.post, "/api/v1/orders", key: key, json: order)
            #expect(created.status == .created, "\(created.json)")
            #expect(created["amount"] == .number(99.5))
            #expect(created["create_time"] == "2025-11-24 16:00:00", "Unix seconds in, the seed's form (UTC) out")
            #expect(try await client.call(.post, "/api/v1/orders", key: key, json: order).status == .ok)
            let shipped = try await client.call(
                .post, "/api/v1/orders", key: key,
                json: ["order_id": "O-1", "customer_id": "C-1", "amount": .number(99.5), "currency": "EUR", "status": "shipped"]
            )
            #expect(shipped["status"]?.string == "shipped")
            #expect(shipped["create_time"] == "2025-11-24 16:00:00", "an absent create_time keeps the stored one")
            _ = try await client.call(.post, "/api/v1/orders", key: key, json: ["order_id": "O-2", "customer_id": "C-1", "amount": 5, "status": "open"])

            let listed = try await client.call(.get, "/api/v1/customers/C-1/orders", key: key)
            #expect(listed["data"]?.array.compactMap { $0["order_id"]?.string } == ["O-1", "O-2"])
            #expect(try await client.call(.get, "/api/v1/customers/C-404/orders", key: key).status == .notFound)
            #expect(try await client.call(.get, "/api/v1/orders/O-2", key: key)["amount"] == .number(5))

            let bad: [(JSONValue, String)] = [
                (["order_id": "O-3", "customer_id": "C-1", "amount": -1, "status": "paid"], "amount"),
                (["order_id": "O-3", "customer_id": "C-1", "amount": 1, "status": "paid", "currency": "euro"], "currency"),
                (["order_id": "O-3", "customer_id": "C-1", "amount": 1], "status"),
                (["order_id": "O-3", "customer_id": "C-1", "amount": 1, "status": "paid", "create_time": "2023-02-30 12:00:00"], "create_time"),
                (["order_id": "O-3", "customer_id": "C-1", "amount": 1, "status": "paid", "create_time": "2023-10-26T12:00:00"], "create_time"),
                (["order_id": "O-3", "customer_id": "C-1", "amount": 1, "status": "paid", "create_time": .number(1.5)], "create_time"),
                (["order_id": "O-3", "customer_id": "C-1", "amount": 1, "status": "paid", "create_time": 4_102_444_801], "create_time"),
            ]
            for (input, field) in bad {
                let answer = try await client.call(.post, "/api/v1/orders", key: key, json: input)
                #expect(answer.status == .unprocessableContent, "\(input)")
                #expect(answer["field"]?.string == field, "\(input): \(answer.json)")
            }

            let events = try await Self.events(client, key: key, after: start)
            #expect(events.compactMap { $0["event"]?.string } == ["order.linked", "order.linked", "order.linked"])
            #expect(events.first?["data"]?["customer_id"]?.string == "C-1")
            #expect(events.first?["data"]?["amount"] == .number(99.5))

            // Deleting the customer takes its orders along.
            #expect(try await client.call(.delete, "/api/v1/customers/C-1", key: key).status == .noContent)
            #expect(try await client.call(.get, "/api/v1/orders/O-1", key: key).status == .notFound)
        }
    }

    @Test func ticketsAreCreatedForOpenConversationsAndChangeStatus() async throws {
        let server = try await TestServer.make()
        let key = server.tenantA.key
        try await server.run { client in
            let fixtures = Fixtures(client: client, key: key)
            let (conversation, _, _) = try await fixtures.conversation()
            let (closed, _, _) = try await fixtures.conversation()
            _ = try await client.call(.delete, "/api/v1/conversations/\(closed)", key: key)
            let start = try await Self.events(client, key: key, after: 0).count

            let created = try await client.call(
                .post, "/api/v1/tickets", key: key,
                json: ["title": "Refund", "content": "Order O-1 arrived broken.", "priority": "high", "category": "billing", "conversation_id": .string(conversation)]
            )
            #expect(created.status == .created, "\(created.json)")
            let ticket = try #require(created["ticket_id"]?.string)
            #expect(created["status"]?.string == "new")
            #expect(created.headers[.eTag] == "\"1\"")

            let late = try await client.call(.post, "/api/v1/tickets", key: key, json: ["title": "Late", "content": "x", "conversation_id": .string(closed)])
            #expect(late.status == .conflict)
            #expect(late["code"]?.string == "conversation_closed")
            let unknown = try await client.call(
                .post, "/api/v1/tickets", key: key, json: ["title": "?", "content": "x", "conversation_id": "01a22222-0000-7000-8000-000000000000"]
            )
            #expect(unknown.status == .unprocessableContent)
            #expect(try await client.call(.post, "/api/v1/tickets", key: key, json: ["title": "no content"]).status == .unprocessableContent)
            let badPriority = try await client.call(.post, "/api/v1/tickets", key: key, json: ["title": "t", "content": "c", "priority": "asap"])
            #expect(badPriority.status == .unprocessableContent)
            #expect(badPriority["field"]?.string == "priority")

            let resolved = try await client.call(.put, "/api/v1/tickets/\(ticket)", key: key, json: ["status": "resolved", "handler": "alice"])
            #expect(resolved.status == .ok)
            #expect(resolved["status"]?.string == "resolved")
            #expect(try await client.call(.put, "/api/v1/tickets/\(ticket)", key: key, json: ["priority": "urgent"], headers: [.ifMatch: "\"1\""]).status == .preconditionFailed)
            _ = try await client.call(.put, "/api/v1/tickets/\(ticket)", key: key, json: ["priority": "urgent"])

            #expect(try await client.call(.get, "/api/v1/tickets?status=resolved", key: key)["data"]?.array.count == 1)
            #expect(try await client.call(.get, "/api/v1/tickets?conversation_id=\(conversation)", key: key)["data"]?.array.count == 1)
            #expect(try await client.call(.get, "/api/v1/tickets?status=new", key: key)["data"]?.array.isEmpty == true)
            #expect(try await client.call(.get, "/api/v1/tickets/\(ticket)", key: server.tenantB.key).status == .notFound)

            let events = try await Self.events(client, key: key, after: start)
            #expect(events.compactMap { $0["event"]?.string } == ["ticket.created", "ticket.status_changed", "ticket.updated"])
            #expect(events[0]["data"]?["conversation_id"]?.string == conversation)
            #expect(events[1]["data"]?["status"]?.string == "resolved")
            #expect(events[1]["data"]?["previous_status"]?.string == "new")
            #expect(events[1]["data"]?["handler"]?.string == "alice")
        }
    }

    @Test func aTicketTheTicketingSystemRefusesHoldsUpNoOther() async throws {
        let server = try await TestServer.make {
            $0.plugins.directory = try PluginFixtures.directory(["fixture"])
            $0.plugins.ticketingSyncSeconds = 1
            $0.metrics.token = "scrape"
        }
        let key = server.tenantA.key
        try await server.run { client in
            #expect(try await client.call(.put, "/api/v1/integrations/fixture", key: key, json: ["enabled": true, "config": [:]]).status == .ok)
            let refused = try #require(try await client.call(.post, "/api/v1/tickets", key: key, json: ["title": "refused", "content": "x"])["ticket_id"]?.string)
            let fine = try #require(try await client.call(.post, "/api/v1/tickets", key: key, json: ["title": "fine", "content": "y"])["ticket_id"]?.string)
            try await eventually {
                try await client.call(.get, "/api/v1/tickets/\(fine)", key: key)["external"]?["id"]?.string?.hasPrefix("FX-") == true
            }
            #expect(try await client.call(.get, "/api/v1/tickets/\(fine)", key: key)["external"]?["system"]?.string == "fixture")
            let tries = try await client.pluginCalls("fixture", op: "ticketing.create_ticket", metricsToken: "scrape")
            try await eventually { try await client.pluginCalls("fixture", op: "ticketing.create_ticket", metricsToken: "scrape") >= tries + 2 }
            #expect(try await client.call(.get, "/api/v1/tickets/\(refused)", key: key)["external"] == .null, "still waiting, retried each round")
        }
    }
}
