import AsyncHTTPClient
import Foundation
import HummingbirdTesting
import NIOCore
import SwitchboardCore
import SwitchboardTestSupport
import Testing

/// The statistics sink plugins, loaded with dlopen, against a real file system and a real Prometheus
/// Pushgateway on loopback.
@Suite(.timeLimit(.minutes(5))) struct StatisticsSinkTests {
    /// A conversation with a visitor message and an agent answer, then ended: one cell with total 1,
    /// messages 2, closed 1.
    static func makeActivity(_ client: any TestClientProtocol, key: String) async throws -> String {
        let fixtures = Fixtures(client: client, key: key)
        let (conversation, visitor, agent) = try await fixtures.conversation()
        _ = try await fixtures.message(in: conversation, from: visitor)
        _ = try await fixtures.message(in: conversation, from: agent)
        #expect(try await client.call(.delete, "/api/v1/conversations/\(conversation)", key: key).status == .ok)
        return agent
    }

    @Test func fileSinkAppendsChangedCellsAndCatchesUpAfterAFailedWrite() async throws {
        // The plugin's default folder, data/statistics below the working directory (git ignores data/):
        // setting SWITCHBOARD_STATS_FILE_DIR here would change the environment of a process whose other
        // tests start processes at the same moment, and Foundation's Process copies the environment
        // without a lock (it crashed so once). Tenant ids are new each run; the tenants' folders go at the end.
        let root = FileManager.default.currentDirectoryPath + "/data/statistics"
        let server = try await TestServer.make {
            $0.plugins.directory = try PluginFixtures.directory(["stats-file"])
            $0.statistics.sinkIntervalSeconds = 1
            $0.metrics.token = "scrape"
        }
        let tenant = server.tenantA.tenantID
        defer { try? FileManager.default.removeItem(atPath: "\(root)/\(tenant)") }
        // A file where the tenant's folder belongs: every write fails until it is gone.
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try "in the way".write(toFile: "\(root)/\(tenant)", atomically: true, encoding: .utf8)
        try await server.run { client in
            let key = server.tenantA.key
            let enabled = try await client.call(.put, "/api/v1/integrations/stats-file", key: key, json: ["enabled": true, "config": ["name": "daily"]])
            #expect(enabled.status == .ok)
            let refused = try await client.call(.put, "/api/v1/integrations/stats-file", key: key, json: ["enabled": true, "config": ["name": "../escape"]])
            #expect(refused.status == .unprocessableContent)
            let agent = try await Self.makeActivity(client, key: key)
            try await StatisticsTests.waitForRollups(server.store)
            // The sink was offered the cells (it calls only when there are some) and could not write them.
            try await eventually { try await client.pluginCalls("stats-file", op: "stats.push", metricsToken: "scrape") >= 1 }
            #expect(try await server.store.sinkCursor(tenant: tenant, plugin: "stats-file") == 0)

            try FileManager.default.removeItem(atPath: "\(root)/\(tenant)")
            let path = "\(root)/\(tenant)/daily.jsonl"
            func lastLine() throws -> JSONValue? {
                guard let text = try? String(contentsOfFile: path, encoding: .utf8), let line = text.split(separator: "\n").last else { return nil }
                return try JSONDecoder().decode(JSONValue.self, from: Data(line.utf8))
            }
            try await eventually(limit: .seconds(30)) { try lastLine()?["metrics"]?["closed"] == .number(1) }
            let line = try lastLine()
            #expect(line?["tenant_id"]?.stringValue == tenant)
            #expect(line?["type"]?.stringValue == "conversation")
            #expect(line?["dimension"]?["agent_id"]?.stringValue == agent)
            #expect(line?["dimension"]?["channel"]?.stringValue == "web")
            #expect(line?["metrics"]?["total"] == .number(1))
            #expect(line?["metrics"]?["messages"] == .number(2))
            #expect(line?["metrics"]?["responded"] == .number(1))
            // The cursor moves once the plugin answered, just after the write.
            try await eventually(limit: .seconds(30)) { try await server.store.sinkCursor(tenant: tenant, plugin: "stats-file") == (try await server.store.lastPosition()) }

            // Tenant B's file sink sees only tenant B.
            #expect(!FileManager.default.fileExists(atPath: "\(root)/\(server.tenantB.tenantID)"))
        }
    }

    @Test func pushgatewayShowsTheTenantsTotalsOnceItIsUp() async throws {
        let port = try freeLoopbackPort()
        let server = try await TestServer.make {
            $0.plugins.directory = try PluginFixtures.directory(["stats-prometheus"])
            $0.plugins.allowsPrivateNetworks = true
            $0.statistics.sinkIntervalSeconds = 1
            $0.metrics.token = "scrape"
        }
        let tenant = server.tenantA.tenantID
        let gateway = SpawnedProcess()
        defer {
            if gateway.isRunning {
                gateway.terminate()
                gateway.waitUntilExit()
            }
        }
        try await server.run { client in
            let key = server.tenantA.key
            let config: JSONValue = ["url": .string("http://127.0.0.1:\(port)"), "job": "switchboard_test"]
            #expect(try await client.call(.put, "/api/v1/integrations/stats-prometheus", key: key, json: ["enabled": true, "config": config]).status == .ok)
            let agent = try await Self.makeActivity(client, key: key)
            try await StatisticsTests.waitForRollups(server.store)
            // The gateway is not up yet: pushes fail and the sink's cursor stays.
            // (A refused connection is retried until the plugin's 10 s HTTP timeout.)
            try await eventually(limit: .seconds(60)) { try await client.pluginCalls("stats-prometheus", op: "stats.push", metricsToken: "scrape") >= 1 }
            #expect(try await server.store.sinkCursor(tenant: tenant, plugin: "stats-prometheus") == 0)

            gateway.executableURL = URL(fileURLWithPath: "/usr/bin/prometheus-pushgateway")
            gateway.arguments = ["--web.listen-address=127.0.0.1:\(port)"]
            gateway.standardOutput = FileHandle.nullDevice
            gateway.standardError = FileHandle.nullDevice
            try gateway.run()

            func series() async throws -> [JSONValue] {
                guard let response = try? await HTTPClient.shared.get(url: "http://127.0.0.1:\(port)/api/v1/metrics").get(),
                    response.status == .ok, let body = response.body
                else { return [] }
                let groups = try JSONDecoder().decode(JSONValue.self, from: Data(buffer: body))["data"]
                guard case .array(let items) = groups else { return [] }
                let group = items.first { $0["labels"]?["tenant"]?.stringValue == tenant && $0["labels"]?["job"]?.stringValue == "switchboard_test" }
                guard case .array(let metrics) = group?["switchboard_conversation_total"]?["metrics"] else { return [] }
                return metrics
            }
            try await eventually(limit: .seconds(60)) { try await !series().isEmpty }
            let total = try await series().first
            #expect(total?["labels"]?["agent_id"]?.stringValue == agent)
            #expect(total?["labels"]?["channel"]?.stringValue == "web")
            #expect(total?["value"]?.stringValue.flatMap(Double.init) == 1)
            try await eventually(limit: .seconds(30)) { try await server.store.sinkCursor(tenant: tenant, plugin: "stats-prometheus") == (try await server.store.lastPosition()) }
        }
    }
}
