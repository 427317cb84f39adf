import Foundation
import HTTPTypes
import HummingbirdTesting
import SwitchboardCore
import SwitchboardPluginHost
import SwitchboardServer
import SwitchboardStore
import SwitchboardTestSupport
import Testing

/// Plugins loaded with dlopen from real `.so` files into a real server, driven over loopback REST.
@Suite(.timeLimit(.minutes(5))) struct IntegrationRoutesTests {
    static let secretKey = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()

    static func server(plugins: [String], notELF: Bool = false, configure: (inout SwitchboardConfiguration) throws -> Void = { _ in }) async throws -> TestServer {
        let directory = try PluginFixtures.directory(plugins, notELF: notELF)
        return try await TestServer.make { configuration in
            configuration.plugins.directory = directory
            configuration.secrets.key = secretKey
            configuration.plugins.retryBaseMilliseconds = 20
            configuration.plugins.breakerCooldownSeconds = 1
            try configure(&configuration)
        }
    }

    @Test func everyBadPluginIsRejectedWithItsReasonWhileTheServerAnswers() async throws {
        let names = ["echo-c", "fixture", "wrong-abi", "bad-manifest", "bad-schema", "missing-init"]
        let directory = try PluginFixtures.directory(names, notELF: true)
        let catalog = PluginCatalog.load(directory: directory, logger: testLogger)
        let reasons = Dictionary(
            uniqueKeysWithValues: catalog.entries.map { entry in
                (URL(fileURLWithPath: entry.path).deletingPathExtension().lastPathComponent, (try? entry.outcome.get()) == nil ? "\(entry.outcome)" : "loaded")
            }
        )
        #expect(reasons["echo-c"] == "loaded")
        #expect(reasons["fixture"] == "loaded")
        #expect(reasons["notes"]?.contains("not an ELF shared object") == true)
        #expect(reasons["wrong-abi"]?.contains("built for plugin ABI 2.0; this host speaks 1.1") == true)
        #expect(reasons["bad-manifest"]?.contains("malformed manifest: the manifest is not valid JSON") == true)
        #expect(reasons["bad-schema"]?.contains("config_schema.properties.x.type must be one of") == true)
        #expect(reasons["missing-init"]?.contains("missing the entry symbols") == true)

        let server = try await Self.server(plugins: names, notELF: true)
        try await server.run { client in
            let list = try await client.call(.get, "/api/v1/integrations", key: server.tenantA.key)
            #expect(list.status == .ok)
            #expect(list["data"]!.array.compactMap { $0["plugin"]?.string } == ["echo-c", "fixture"])
            #expect(try await client.call(.post, "/api/v1/agents", key: server.tenantA.key, json: ["name": "Ada"]).status == .created)
        }
    }

    @Test func examplePluginsReceiveExactlyTheirTenantsEventsInOrder() async throws {
        let server = try await Self.server(plugins: ["echo-c", "echo-swift"])
        try await server.run { client in
            let a = server.tenantA.key
            let b = server.tenantB.key
            let enableC = try await client.call(.put, "/api/v1/integrations/echo-c", key: a, json: ["enabled": .bool(true), "config": ["label": "A"]])
            #expect(enableC.status == .ok)
            #expect(enableC["state"]?.string == "running")
            #expect(try await client.call(.put, "/api/v1/integrations/echo-swift", key: b, json: ["config": ["label": "B"]]).status == .ok)

            let fixturesA = Fixtures(client: client, key: a)
            let fixturesB = Fixtures(client: client, key: b)
            let conversationA = try await fixturesA.conversation()
            let conversationB = try await fixturesB.conversation()
            for index in 0..<5 {
                _ = try await fixturesA.message(in: conversationA.id, from: conversationA.visitor, "a\(index)")
                _ = try await fixturesB.message(in: conversationB.id, from: conversationB.visitor, "b\(index)")
            }
            let expectedA = try await Self.events(client, key: a).map { "\($0.type):\($0.seq)" }
            let expectedB = try await Self.events(client, key: b).filter { $0.type.hasPrefix("message.") || $0.type.hasPrefix("conversation.") }
                .map { "\($0.type):\($0.seq)" }
            let stateA = try await Self.state(client, key: a, plugin: "echo-c", count: expectedA.count)
            let stateB = try await Self.state(client, key: b, plugin: "echo-swift", count: expectedB.count)
            #expect(stateA["seen"]!.array.compactMap(\.string) == expectedA)
            #expect(stateB["seen"]!.array.compactMap(\.string) == expectedB)

            // Each tenant's instance has its own config and kv space.
            #expect(try await client.call(.post, "/api/v1/integrations/echo-c/call", key: a, json: ["op": "echo.ping"])["label"] == "A")
            let pingB = try await client.call(.post, "/api/v1/integrations/echo-swift/call", key: b, json: ["op": "echo.ping", "args": ["n": 1]])
            #expect(pingB.status == .ok)
            #expect(pingB["label"] == "B")
            #expect(pingB["tenant_id"]?.string == server.tenantB.tenantID)
            #expect(try await client.call(.post, "/api/v1/integrations/echo-c/call", key: b, json: ["op": "echo.state"]).status == .conflict)

            // Tenant B's own instance of echo-c starts from B's newest event and shares nothing with A's.
            #expect(try await client.call(.put, "/api/v1/integrations/echo-c", key: b, json: ["config": ["label": "B2"]]).status == .ok)
            let agentB = try await fixturesB.agent()
            let agentCreated = try await Self.events(client, key: b).last!
            let stateBC = try await Self.state(client, key: b, plugin: "echo-c", count: 1)
            #expect(stateBC["seen"]!.array.compactMap(\.string) == ["agent.created:\(agentCreated.seq)"])
            #expect(try await client.call(.post, "/api/v1/integrations/echo-c/call", key: b, json: ["op": "echo.ping"])["label"] == "B2")
            #expect(try await Self.state(client, key: a, plugin: "echo-c", count: expectedA.count)["seen"]!.array.compactMap(\.string) == expectedA)
            _ = agentB
        }
    }

    /// A resync (another server changed an integration) that reads the stored integrations while a
    /// configure is between starting a new instance and saving it must not stop that instance.
    @Test func aResyncAlongsideAConfigureLeavesTheNewInstanceRunning() async throws {
        let server = try await TestServer.make()
        let manager = IntegrationManager(
            catalog: PluginCatalog.load(directory: try PluginFixtures.directory(["echo-c"]), logger: testLogger),
            store: server.store,
            log: server.store,
            secrets: try SecretBox(base64Key: Self.secretKey),
            http: nil,
            logger: testLogger
        )
        async let pool: Void = manager.tasks.run()
        try await manager.start()
        for round in 0..<20 {
            let tenant = try await server.store.createTenant(name: "Round \(round)").id
            // What another server saved: the resync has an instance to reconfigure before it looks for
            // instances whose integration is gone.
            _ = try await server.store.saveIntegration(
                tenant: server.tenantB.tenantID, plugin: "echo-c", isEnabled: true, config: ["label": .string("other \(round)")], initialCursor: 0
            )
            async let configured = manager.configure(tenant: tenant, plugin: "echo-c", isEnabled: true, config: ["label": "new"])
            async let resynced: Void = manager.resync()
            _ = try await (configured, resynced)
            #expect(try await manager.integration(tenant: tenant, plugin: "echo-c").state == .running, "round \(round)")
        }
        await manager.shutdown()
        manager.tasks.finish()
        await pool
    }

    @Test func deliveryResumesAfterARestartWithoutSkippingEventsMadeMeanwhile() async throws {
        let server = try await Self.server(plugins: ["echo-c"])
        try await server.run { client in
            #expect(try await client.call(.put, "/api/v1/integrations/echo-c", key: server.tenantA.key, json: [:]).status == .ok)
            _ = try await Fixtures(client: client, key: server.tenantA.key).agent()
            _ = try await Self.state(client, key: server.tenantA.key, plugin: "echo-c", count: 1)
        }
        // While the server is down, the store takes two more changes.
        let reopened = try openStore(server.configuration.database)
        for name in ["Bo", "Cy"] {
            _ = try await reopened.execute(.createAgent(NewAgent(name: name)), tenant: server.tenantA.tenantID, idempotency: nil)
        }
        let restarted = TestServer(store: reopened, configuration: server.configuration, tenantA: server.tenantA, tenantB: server.tenantB)
        try await restarted.run { client in
            let state = try await Self.state(client, key: server.tenantA.key, plugin: "echo-c", count: 3)
            #expect(state["seen"]!.array.compactMap(\.string) == ["agent.created:1", "agent.created:2", "agent.created:3"])
        }
    }

    @Test func integrationsDeclaredInAFileAreAppliedAtStart() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("integrations-\(UUID().uuidString).json").path
        let server = try await Self.server(plugins: ["echo-c"]) { $0.plugins.integrationsFile = file }
        let declaration = #"[{"tenant": "\#(server.tenantA.tenantID)", "plugin": "echo-c", "enabled": true, "config": {"label": "declared", "token": "s3cret-token"}}]"#
        try declaration.write(toFile: file, atomically: true, encoding: .utf8)
        try await server.run { client in
            let view = try await client.call(.get, "/api/v1/integrations/echo-c", key: server.tenantA.key)
            #expect(view["state"]?.string == "running")
            #expect(view["config"]?["label"] == "declared")
            #expect(view["config"]?["token"]?.string == SecretBox.mask)
        }
        try #"[{"tenant": "\#(server.tenantA.tenantID)", "plugin": "echo-c", "enabled": true, "config": {"label": 7}}]"#.write(toFile: file, atomically: true, encoding: .utf8)
        let reopened = try openStore(server.configuration.database)
        await #expect {
            _ = try await buildApplication(configuration: server.configuration, store: reopened, logger: testLogger)
        } throws: { error in
            "\(error)".contains("config.label")
        }
        reopened.close()
    }

    @Test func disablingStopsDeliveryAndReEnablingContinuesFromTheCursor() async throws {
        let server = try await Self.server(plugins: ["echo-c"])
        try await server.run { client in
            let key = server.tenantA.key
            #expect(try await client.call(.put, "/api/v1/integrations/echo-c", key: key, json: [:]).status == .ok)
            let fixtures = Fixtures(client: client, key: key)
            let agent = try await fixtures.agent()
            _ = try await Self.state(client, key: key, plugin: "echo-c", count: 1)

            #expect(try await client.call(.delete, "/api/v1/integrations/echo-c", key: key).status == .noContent)
            let disabled = try await client.call(.get, "/api/v1/integrations/echo-c", key: key)
            #expect(disabled["enabled"] == .bool(false))
            #expect(disabled["state"]?.string == "disabled")
            for name in ["B", "C", "D"] {
                _ = try await client.call(.put, "/api/v1/agents/\(agent)", key: key, json: ["name": .string(name)])
            }
            #expect(try await client.call(.post, "/api/v1/integrations/echo-c/call", key: key, json: ["op": "echo.state"]).status == .conflict)

            #expect(try await client.call(.put, "/api/v1/integrations/echo-c", key: key, json: ["enabled": .bool(true)]).status == .ok)
            let state = try await Self.state(client, key: key, plugin: "echo-c", count: 4)
            #expect(state["seen"]!.array.compactMap(\.string) == ["agent.created:1", "agent.updated:2", "agent.updated:3", "agent.updated:4"])
        }
    }

    @Test func configIsValidatedAndSecretsAreSealedAndMasked() async throws {
        let server = try await Self.server(plugins: ["echo-c"])
        try await server.run { client in
            let key = server.tenantA.key
            let tooLong = try await client.call(.put, "/api/v1/integrations/echo-c", key: key, json: ["config": ["label": .string(String(repeating: "x", count: 65))]])
            #expect(tooLong.status == .unprocessableContent)
            #expect(tooLong["code"]?.string == "invalid_config")
            #expect(tooLong["field"]?.string == "config.label")
            let unknown = try await client.call(.put, "/api/v1/integrations/echo-c", key: key, json: ["config": ["colour": "red"]])
            #expect(unknown["field"]?.string == "config.colour")
            #expect(try await client.call(.put, "/api/v1/integrations/nope", key: key, json: [:])["code"]?.string == "plugin_not_found")

            let saved = try await client.call(.put, "/api/v1/integrations/echo-c", key: key, json: ["config": ["label": "L", "token": "hunter22"]])
            #expect(saved.status == .ok)
            #expect(saved["config"]?["token"]?.string == SecretBox.mask)
            #expect(try await client.call(.get, "/api/v1/integrations/echo-c", key: key)["config"]?["token"]?.string == SecretBox.mask)
            let stored = try #require(try await server.store.integration(tenant: server.tenantA.tenantID, plugin: "echo-c"))
            #expect(!"\(stored.config)".contains("hunter22"))
            #expect(SecretBox.containsSealed(stored.config))
            let check = try await client.call(.post, "/api/v1/integrations/echo-c/call", key: key, json: ["op": "echo.check_token", "args": ["token": "hunter22"]])
            #expect(check["match"] == .bool(true))

            // Sending the mask back keeps the secret; the label changes in place.
            #expect(try await client.call(.put, "/api/v1/integrations/echo-c", key: key, json: ["config": ["label": "M", "token": .string(SecretBox.mask)]]).status == .ok)
            #expect(try await client.call(.post, "/api/v1/integrations/echo-c/call", key: key, json: ["op": "echo.check_token", "args": ["token": "hunter22"]])["match"] == .bool(true))
            #expect(try await client.call(.post, "/api/v1/integrations/echo-c/call", key: key, json: ["op": "echo.ping"])["label"] == "M")
        }
    }

    @Test func sealedSecretsWithoutAKeyStopTheStartWithAClearError() async throws {
        let server = try await Self.server(plugins: ["echo-c"])
        try await server.run { client in
            let saved = try await client.call(.put, "/api/v1/integrations/echo-c", key: server.tenantA.key, json: ["config": ["token": "hunter22"]])
            #expect(saved.status == .ok)
        }
        var configuration = server.configuration
        configuration.secrets.key = nil
        let reopened = try openStore(configuration.database)
        defer { reopened.close() }
        await #expect(throws: ConfigurationError.self) {
            _ = try await buildApplication(configuration: configuration, store: reopened, logger: testLogger)
        }
    }

    @Test func authProviderPluginsSignAgentsInWithDirectoryCredentials() async throws {
        let server = try await Self.server(plugins: ["fixture"])
        try await server.run { client in
            let admin = server.tenantA.key
            let agent = try await Fixtures(client: client, key: admin).agent("Ada")
            func basic(_ user: String, _ password: String) -> HTTPFields {
                [.authorization: "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()]
            }
            let ada = "\(server.tenantA.tenantID)/ada"
            let before = try await client.call(.get, "/api/v1/agents/\(agent)", key: nil, headers: basic(ada, "s3cret"))
            #expect(before.status == .unauthorized && before["detail"]?.string == "This tenant has no directory sign-in enabled.")

            let enabled = try await client.call(.put, "/api/v1/integrations/fixture", key: admin, json: ["config": ["auth_subject": .string(agent)]])
            #expect(enabled.status == .ok)
            #expect(try await client.call(.get, "/api/v1/agents/\(agent)", key: nil, headers: basic(ada, "s3cret"))["name"]?.string == "Ada")
            // The principal is the agent the directory named, with an agent's scopes.
            let keys = try await client.call(.get, "/api/v1/api-keys", key: nil, headers: basic(ada, "s3cret"))
            #expect(keys.status == .forbidden && keys["required_scope"]?.string == "keys:manage")
            let wrong = try await client.call(.get, "/api/v1/agents", key: nil, headers: basic(ada, "guess"))
            #expect(wrong.status == .unauthorized && wrong["detail"]?.string == "The directory refused these credentials.")
            let otherTenant = try await client.call(.get, "/api/v1/agents", key: nil, headers: basic("\(server.tenantB.tenantID)/ada", "s3cret"))
            #expect(otherTenant.status == .unauthorized, "tenant B has not enabled the plugin")
            #expect(try await client.call(.get, "/api/v1/agents", key: nil, headers: basic("ada", "s3cret")).status == .unauthorized)
            let denied = try await SecurityTests.audit(client, admin: admin, action: "auth.failed", count: 2)
            #expect(Set(denied.compactMap { $0["detail"]?["reason"]?.string }) == ["no_auth_provider", "denied"])
        }
    }

    @Test func aHangingCallTimesOutAndTheInstanceGoesOn() async throws {
        let server = try await Self.server(plugins: ["fixture"])
        try await server.run { client in
            let key = server.tenantA.key
            #expect(try await client.call(.put, "/api/v1/integrations/fixture", key: key, json: [:]).status == .ok)
            // The op sleeps an hour: an answer at all is the call deadline firing (a hang fails the suite's time limit).
            let hung = try await client.call(.post, "/api/v1/integrations/fixture/call", key: key, json: ["op": "fixture.hang"])
            #expect(hung.status == .gatewayTimeout)
            #expect(hung["code"]?.string == "plugin_timeout")
            // The hung hook keeps its thread; the instance still answers other calls.
            #expect(try await client.call(.post, "/api/v1/integrations/fixture/call", key: key, json: ["op": "fixture.nothing"]).status == .notFound)
            #expect(try await client.call(.get, "/health", key: nil).status == .ok)
        }
    }

    @Test func failingDeliveriesAreRetriedThroughTheBreakerAndDeliveredOnce() async throws {
        // An outage, not a poisoned event: no event is parked while it lasts.
        let server = try await Self.server(plugins: ["fixture"]) {
            $0.plugins.breakerThreshold = 3
            $0.plugins.maxEventAttempts = 1_000
        }
        try await server.run { client in
            let key = server.tenantA.key
            #expect(try await client.call(.put, "/api/v1/integrations/fixture", key: key, json: [:]).status == .ok)
            #expect(try await client.call(.post, "/api/v1/integrations/fixture/call", key: key, json: ["op": "fixture.fail", "args": ["on": .bool(true)]]).status == .ok)
            let fixtures = Fixtures(client: client, key: key)
            let conversation = try await fixtures.conversation()
            for index in 0..<3 { _ = try await fixtures.message(in: conversation.id, from: conversation.visitor, "m\(index)") }
            try await eventually { try await client.call(.get, "/api/v1/integrations/fixture", key: key)["event_breaker"]?["state"]?.string == "open" }
            // Calls have a breaker of their own: failing events do not refuse them.
            #expect(try await client.call(.post, "/api/v1/integrations/fixture/call", key: key, json: ["op": "fixture.seen"]).status == .ok)
            #expect(try await client.call(.get, "/api/v1/integrations/fixture", key: key)["breaker"]?["state"]?.string == "closed")

            // The fault is cleared; after the cooldown a probe delivers, and the rest follow.
            #expect(try await client.call(.post, "/api/v1/integrations/fixture/call", key: key, json: ["op": "fixture.fail", "args": ["on": .bool(false)]]).status == .ok)
            let expected = try await Self.events(client, key: key).filter { $0.type == "message.received" }.map { JSONValue.number(Double($0.seq)) }
            try await eventually { try await client.call(.post, "/api/v1/integrations/fixture/call", key: key, json: ["op": "fixture.seen"]).json == .array(expected) }
            #expect(try await client.call(.get, "/api/v1/integrations/fixture", key: key)["event_breaker"]?["state"]?.string == "closed")
            #expect(try await client.call(.get, "/api/v1/integrations/fixture/parked", key: key)["data"]?.array.isEmpty == true)
        }
    }

    @Test func pluginHTTPGoesThroughTheSSRFGuard() async throws {
        for allowsPrivate in [false, true] {
            let server = try await Self.server(plugins: ["fixture"]) { $0.plugins.allowsPrivateNetworks = allowsPrivate }
            let receiver = try await TestServer.make()
            try await receiver.run { receiverClient in
                try await server.run { client in
                    let key = server.tenantA.key
                    #expect(try await client.call(.put, "/api/v1/integrations/fixture", key: key, json: [:]).status == .ok)
                    let url = "http://127.0.0.1:\(receiverClient.port!)/health"
                    let fetched = try await client.call(.post, "/api/v1/integrations/fixture/call", key: key, json: ["op": "fixture.fetch", "args": ["url": .string(url)]])
                    #expect(fetched.status == .ok)
                    if allowsPrivate {
                        #expect(fetched["code"] == 200)
                        #expect(fetched["body"]?.string?.contains("ok") == true)
                    } else {
                        #expect(fetched["status"] == 4)  // SB_DENIED
                        #expect(fetched["code"] == 0)
                    }
                }
            }
        }
    }

    @Test func aPluginEmitsEventsIntoItsTenantsLog() async throws {
        let server = try await Self.server(plugins: ["echo-swift"])
        try await server.run { client in
            let key = server.tenantA.key
            #expect(try await client.call(.put, "/api/v1/integrations/echo-swift", key: key, json: ["config": ["emit_on_ping": .bool(true)]]).status == .ok)
            #expect(try await client.call(.post, "/api/v1/integrations/echo-swift/call", key: key, json: ["op": "echo.ping"]).status == .ok)
            let events = try await Self.events(client, key: key)
            #expect(events.map(\.type) == ["plugin.echo-swift.pinged"])
            #expect(try await client.call(.post, "/api/v1/integrations/echo-swift/call", key: key, json: ["op": "echo.unknown"])["code"]?.string == "plugin_not_found")
        }
    }

    @Test func aCrashingSubprocessPluginIsRestartedAndTheEventDeliveredOnceTheFaultIsGone() async throws {
        let crashFile = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-crash-\(UUID().uuidString)").path
        let server = try await Self.server(plugins: ["crash", "echo-c"]) { configuration in
            configuration.plugins.subprocessPlugins = ["crash"]
            configuration.plugins.hostExecutable = PluginFixtures.switchboardExecutable
            // The fault lasts until the test removes it: retried, not parked.
            configuration.plugins.maxEventAttempts = 1_000
        }
        try await server.run { client in
            let key = server.tenantA.key
            let enabled = try await client.call(.put, "/api/v1/integrations/crash", key: key, json: ["config": ["crash_file": .string(crashFile)]])
            #expect(enabled.status == .ok)
            #expect(enabled["isolation"]?.string == "subprocess")
            #expect(try await client.call(.put, "/api/v1/integrations/echo-c", key: key, json: [:]).status == .ok)
            try "crash".write(toFile: crashFile, atomically: true, encoding: .utf8)
            let fixtures = Fixtures(client: client, key: key)
            let conversation = try await fixtures.conversation()
            #expect(try await fixtures.message(in: conversation.id, from: conversation.visitor, "boom").status == .created)

            // The child dies on the event again and again; REST and the in-process plugin keep working.
            try await eventually { try await client.call(.get, "/api/v1/integrations/crash", key: key)["event_breaker"]?["consecutive_failures"]?.int ?? 0 >= 2 }
            #expect(try await fixtures.message(in: conversation.id, from: conversation.visitor, "still here").status == .created)
            _ = try await Self.state(client, key: key, plugin: "echo-c", count: try await Self.events(client, key: key).count)

            try FileManager.default.removeItem(atPath: crashFile)
            let expected = try await Self.events(client, key: key).filter { $0.type == "message.received" }.map { JSONValue.number(Double($0.seq)) }
            try await eventually(limit: .seconds(20)) {
                try await client.call(.post, "/api/v1/integrations/crash/call", key: key, json: ["op": "fixture.seen"]).json == .array(expected)
            }
        }
    }

    @Test func aHangingSubprocessCallTimesOutAndTheChildIsReplaced() async throws {
        let server = try await Self.server(plugins: ["fixture"]) { configuration in
            configuration.plugins.isolation = .subprocess
            configuration.plugins.hostExecutable = PluginFixtures.switchboardExecutable
        }
        try await server.run { client in
            let key = server.tenantA.key
            #expect(try await client.call(.put, "/api/v1/integrations/fixture", key: key, json: [:]).status == .ok)
            // The op sleeps an hour: an answer at all is the call deadline firing (a hang fails the suite's time limit).
            let hung = try await client.call(.post, "/api/v1/integrations/fixture/call", key: key, json: ["op": "fixture.hang"])
            #expect(hung.status == .gatewayTimeout)
            try await eventually { try await client.call(.post, "/api/v1/integrations/fixture/call", key: key, json: ["op": "fixture.seen"]).status == .ok }
        }
    }

    @Test func serverAndPluginMetricsAreExportedToPrometheus() async throws {
        let server = try await Self.server(plugins: ["echo-c"]) { $0.metrics.token = "scrape-me" }
        try await server.run { client in
            let key = server.tenantA.key
            #expect(try await client.call(.put, "/api/v1/integrations/echo-c", key: key, json: [:]).status == .ok)
            _ = try await Fixtures(client: client, key: key).agent()
            _ = try await Self.state(client, key: key, plugin: "echo-c", count: 1)
            // Ops the plugin does not declare share one label, whatever a caller sends.
            for index in 0..<20 {
                _ = try await client.call(.post, "/api/v1/integrations/echo-c/call", key: key, json: ["op": .string("random.\(index)")])
            }
            // The webhooks consumer saves its cursor at most once a second; its lag is shown from then on.
            var text = ""
            try await eventually {
                let scraped = try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer scrape-me"], body: nil)
                #expect(scraped.status == .ok)
                text = String(buffer: scraped.body)
                return text.contains(#"sb_event_consumer_lag{consumer="webhooks"}"#)
            }
            #expect(text.contains(#"sb_plugin_echo_events_total{plugin="echo-c",tenant="\#(server.tenantA.tenantID)"} 1"#))
            #expect(text.contains(#"sb_plugin_calls_total{plugin="echo-c",op="echo.state",status="ok"} 1"#))
            #expect(text.contains(#"sb_plugin_calls_total{plugin="echo-c",op="other",status="not_found"} 20"#))
            #expect(!text.contains("random."))
            #expect(text.contains(#"sb_http_requests_total{method="POST",route="/api/v1/agents",status="201"} 1"#))
            #expect(text.contains(#"sb_http_request_duration_seconds_count{method="POST",route="/api/v1/agents",status="201"} 1"#))
            #expect(text.contains("sb_websocket_connections 0"))
            #expect(text.contains("sb_event_log_position 1"))
            #expect(text.contains("# HELP sb_event_log_position Position of the last committed event in the log."))
            #expect(text.contains(#"sb_event_consumer_lag{consumer="webhooks"}"#))
            #expect(try await client.call(.get, "/metrics", key: key).status == .unauthorized)
        }
        let closed = try await TestServer.make()
        try await closed.run { client in
            let disabled = try await client.call(.get, "/metrics", key: nil)
            #expect(disabled["code"]?.string == "metrics_disabled")
        }
    }

    // MARK: - Helpers

    static func events(_ client: any TestClientProtocol, key: String) async throws -> [(type: String, seq: Int)] {
        try await client.call(.get, "/api/v1/events?limit=1000", key: key)["data"]!.array.map { ($0["event"]!.string!, $0["seq"]!.int!) }
    }

    /// The echo plugin's state once it counted `count` events.
    static func state(_ client: any TestClientProtocol, key: String, plugin: String, count: Int) async throws -> JSONValue {
        var state = JSONValue.null
        try await eventually {
            state = try await client.call(.post, "/api/v1/integrations/\(plugin)/call", key: key, json: ["op": "echo.state"]).json
            return state["count"]?.int == count
        }
        return state
    }
}
