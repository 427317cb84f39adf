import Foundation
import SwitchboardCore
import Testing

/// docs/plugins.md, "Writing one", as a newcomer runs it: scaffold, build, inspect, install, list, then
/// enable for a tenant and call over REST.
@Suite(.timeLimit(.minutes(3))) struct PluginWalkthroughTests {
    /// Runs a command in `directory`; its exit status and what it printed.
    static func run(_ arguments: [String], in directory: String) throws -> (status: Int32, output: String) {
        try runCommand("/usr/bin/env", arguments, directory: directory)
    }

    @Test func theDocumentedStepsTakeANewPluginToATenant() async throws {
        let switchboard = PluginFixtures.switchboardExecutable
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-walkthrough-\(UUID().uuidString)").path
        let plugins = work + "/plugins"
        try FileManager.default.createDirectory(atPath: plugins, withIntermediateDirectories: true)

        let created = try await offPool { try Self.run([switchboard, "plugins", "new", "my-crm", "--lang", "c"], in: work) }
        #expect(created.status == 0, "\(created.output)")
        let built = try await offPool { try Self.run(["make"], in: work + "/my-crm") }
        #expect(built.status == 0 && !built.output.contains("warning"), "\(built.output)")
        let inspected = try await offPool { try Self.run([switchboard, "plugins", "inspect", "libmy-crm.so"], in: work + "/my-crm") }
        #expect(inspected.status == 0 && inspected.output.contains("my-crm 0.1.0"), "\(inspected.output)")
        try FileManager.default.copyItem(atPath: work + "/my-crm/libmy-crm.so", toPath: plugins + "/my-crm.so")
        let listed = try await offPool {
            try Self.run(["env", "SWITCHBOARD_PLUGINS_DIR=\(plugins)", switchboard, "plugins", "list"], in: work)
        }
        #expect(listed.status == 0 && listed.output.contains("my-crm"), "\(listed.output)")

        let server = try await TestServer.make { $0.plugins.directory = plugins }
        try await server.run { client in
            let key = try await SecurityTests.key(client, admin: server.tenantA.key, ["name": "integrations", "scopes": ["integrations:manage"]]).secret
            let enabled = try await client.call(.put, "/api/v1/integrations/my-crm", key: key, body: #"{"enabled": true, "config": {}}"#)
            #expect(enabled.status == .ok, "\(enabled.json)")
            let called = try await client.call(.post, "/api/v1/integrations/my-crm/call", key: key, body: #"{"op": "my-crm.ping", "args": {"hello": 1}}"#)
            #expect(called.status == .ok && called["pong"] == .bool(true) && called["args"]?["hello"]?.int == 1, "\(called.json)")
        }
    }
}
