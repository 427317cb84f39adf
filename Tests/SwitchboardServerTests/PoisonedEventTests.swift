import Foundation
import HTTPTypes
import SwitchboardCore
import SwitchboardTestSupport
import Testing

@Suite(.timeLimit(.minutes(3))) struct PoisonedEventTests {
    /// An event that crashes a subprocess child, and one that fails with an error status in process, are
    /// parked after the configured attempts; the next 100 events are delivered in order; health, metrics
    /// and the parked list say so; a retry after fixing the config delivers the event once.
    @Test func aPoisonedEventIsParkedAndLaterEventsFlow() async throws {
        let server = try await IntegrationRoutesTests.server(plugins: ["fixture", "crash"]) {
            $0.plugins.subprocessPlugins = ["crash"]
            $0.plugins.hostExecutable = PluginFixtures.switchboardExecutable
            $0.plugins.maxEventAttempts = 3
            $0.metrics.token = "scrape"
        }
        try await server.run { client in
            let key = server.tenantA.key
            for plugin in ["fixture", "crash"] {
                #expect(try await client.call(.put, "/api/v1/integrations/\(plugin)", key: key, json: ["config": [:]]).status == .ok)
            }
            let fixtures = Fixtures(client: client, key: key)
            let conversation = try await fixtures.conversation()
            let crashing = try #require(try await fixtures.message(in: conversation.id, from: conversation.visitor, "poison-crash")["id"]?.string)
            let failing = try #require(try await fixtures.message(in: conversation.id, from: conversation.visitor, "poison-fail")["id"]?.string)
            for index in 0..<100 { _ = try await fixtures.message(in: conversation.id, from: conversation.visitor, "m\(index)") }
            let received = try await IntegrationRoutesTests.events(client, key: key).filter { $0.type == "message.received" }.map(\.seq)
            let (crashSeq, failSeq) = (received[0], received[1])
            let later = Array(received.dropFirst(2))
            _ = (crashing, failing)

            func seen(_ plugin: String) async throws -> [Int] {
                (try await client.call(.post, "/api/v1/integrations/\(plugin)/call", key: key, json: ["op": "fixture.seen"]).json.array).compactMap(\.int)
            }
            // In process, the failing event is parked and everything else arrives in order.
            try await eventually(limit: .seconds(60)) { try await seen("fixture") == [crashSeq] + later }
            // The subprocess child crashed on one event (and restarted each time) and failed on the other: both parked.
            try await eventually(limit: .seconds(60)) { try await seen("crash").suffix(later.count) == later[...] }

            let parkedCrash = try await client.call(.get, "/api/v1/integrations/crash/parked", key: key)["data"]?.array ?? []
            #expect(parkedCrash.compactMap { $0["seq"]?.int } == [crashSeq, failSeq], "\(parkedCrash)")
            #expect(parkedCrash.allSatisfy { $0["attempts"]?.int == 3 })
            let parkedFixture = try await client.call(.get, "/api/v1/integrations/fixture/parked", key: key)["data"]?.array ?? []
            #expect(parkedFixture.compactMap { $0["seq"]?.int } == [failSeq])

            let health = try await client.call(.get, "/api/v1/integrations/crash", key: key)
            #expect(health["health"]?["status"]?.string == "degraded", "\(health.json)")
            #expect(health["health"]?["last_parked"]?["seq"]?.int == failSeq && health["parked_events"]?.int == 2)

            let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer scrape"], body: nil).body)
            #expect(metrics.contains(#"sb_plugin_events_parked_total{plugin="crash"} 2"#))
            #expect(metrics.contains(#"sb_plugin_events_parked_total{plugin="fixture"} 1"#))
            #expect(metrics.contains(#"sb_plugin_restarts_total{plugin="crash"}"#))
            #expect(metrics.contains(#"sb_plugin_lag_events{plugin="fixture",tenant="\#(server.tenantA.tenantID)"} 0"#))

            // Retried unchanged, it fails again and stays parked; fixed, it is delivered once.
            let again = try await client.call(.post, "/api/v1/integrations/fixture/parked/\(failSeq)/retry", key: key)
            #expect(again.status == .serviceUnavailable, "\(again.json)")
            #expect(try await client.call(.put, "/api/v1/integrations/fixture", key: key, json: ["config": ["heal": true]]).status == .ok)
            let retried = try await client.call(.post, "/api/v1/integrations/fixture/parked/\(failSeq)/retry", key: key)
            #expect(retried.status == .ok && retried["delivered"] == .bool(true), "\(retried.json)")
            #expect(try await seen("fixture").filter { $0 == failSeq }.count == 1)
            #expect(try await client.call(.get, "/api/v1/integrations/fixture/parked", key: key)["data"]?.array.isEmpty == true)
            #expect(try await client.call(.get, "/api/v1/integrations/fixture", key: key)["health"]?["status"]?.string == "ok")

            // Dropped, it is gone without a delivery.
            #expect(try await client.call(.delete, "/api/v1/integrations/crash/parked/\(crashSeq)", key: key).status == .noContent)
            #expect(try await client.call(.delete, "/api/v1/integrations/crash/parked/\(crashSeq)", key: key).status == .notFound)
            #expect(try await client.call(.get, "/api/v1/integrations/crash/parked", key: key)["data"]?.array.count == 1)
        }
    }

    /// ABI 1.1: the log and metric services say what they refused, where the 1.0 ones stay silent.
    @Test func checkedServicesReportWhatTheyRefuse() async throws {
        let server = try await IntegrationRoutesTests.server(plugins: ["checked"]) { $0.metrics.token = "scrape" }
        try await server.run { client in
            let key = server.tenantA.key
            #expect(try await client.call(.put, "/api/v1/integrations/checked", key: key, json: ["config": [:]]).status == .ok)
            let answer = try await client.call(.post, "/api/v1/integrations/checked/call", key: key, json: ["op": "checked.try"])
            // As switchboard_plugin.h numbers them: SB_OK 0, SB_INVALID 2.
            let statuses = answer.json.array.compactMap(\.int)
            let (invalid, ok) = (2, 0)
            #expect(statuses == [invalid, ok, invalid, invalid, ok, ok], "\(answer.json)")
            let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer scrape"], body: nil).body)
            #expect(metrics.contains(#"sb_plugin_checked_total{plugin="checked",tenant="\#(server.tenantA.tenantID)"} 2"#))
        }
    }
}
