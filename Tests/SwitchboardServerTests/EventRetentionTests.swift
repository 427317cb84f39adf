import Foundation
import SwitchboardCore
import SwitchboardServer
import SwitchboardTestSupport
import Testing

@Suite(.timeLimit(.minutes(5))) struct EventRetentionTests {
    @Test func expiredEventsGoOnlyOnceEveryConsumerReadThemAndReadingBeforeThemIs410() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let key = server.tenantA.key
            let fixtures = Fixtures(client: client, key: key)
            for _ in 0..<3 { _ = try await fixtures.agent() }
            // Each consumer of the log (webhook queue, CRM lookups, statistics) reads every event; until then nothing may go.
            try await eventually {
                for consumer in ["webhooks", "crm", "statistics"] where try await server.store.cursor(consumer: consumer) < 3 { return false }
                return true
            }
            let purged = try await server.store.purgeAll(.events, olderThan: Date().addingTimeInterval(60))
            #expect(purged == 3)

            let expired = try await client.call(.get, "/api/v1/events?after=0", key: key)
            #expect(expired.status == .gone)
            #expect(expired["code"]?.string == "events_expired")
            let fresh = try await client.call(.get, "/api/v1/events?after=3", key: key)
            #expect(fresh.status == .ok)
            _ = try await fixtures.agent()
            #expect(try await client.call(.get, "/api/v1/events?after=3", key: key)["data"]!.array.compactMap { $0["seq"]?.int } == [4])
            #expect(try await client.call(.get, "/api/v1/events?after=0", key: server.tenantB.key).status == .ok)
        }
    }
}
