import Foundation
import HummingbirdTesting
import SwitchboardCore
import SwitchboardServer
import SwitchboardStore
import SwitchboardTestSupport
import Testing

/// `switchboard db copy` from a SQLite deployment into PostgreSQL, run as the real command between a
/// server on each.
@Suite(.timeLimit(.minutes(5))) struct DatabaseCopyTests {
    /// Runs `switchboard` with `arguments`; returns its exit status and everything it printed.
    static func switchboard(_ arguments: [String], environment: [String: String]) throws -> (status: Int32, output: String) {
        try runCommand(PluginFixtures.switchboardExecutable, arguments, environment: ProcessInfo.processInfo.environment.merging(environment) { $1 })
    }

    static func configuration(database: DatabaseSettings, plugins: String) -> SwitchboardConfiguration {
        var configuration = SwitchboardConfiguration()
        configuration.server.port = 0
        configuration.server.headerTimeoutSeconds = 600
        configuration.server.idleTimeoutSeconds = 600
        configuration.database = database
        configuration.plugins.directory = plugins
        configuration.webhooks.allowsHTTP = true
        configuration.webhooks.allowsPrivateNetworks = true
        return configuration
    }

    /// What a client reads of the deployment through `key`, minus what changes by itself (when a key
    /// was last used, a plugin's running state and counters).
    static func answers(_ client: any TestClientProtocol, key: String, conversations: [String]) async throws -> [String: JSONValue] {
        var answers: [String: JSONValue] = [:]
        var paths = ["/api/v1/webhooks", "/api/v1/api-keys", "/api/v1/events?after=3000&limit=100", "/api/v1/agents"]
        for conversation in conversations.prefix(5) + conversations.suffix(5) {
            paths += ["/api/v1/conversations/\(conversation)", "/api/v1/conversations/\(conversation)/messages"]
        }
        var cursor: String?
        repeat {
            let path = "/api/v1/conversations?limit=100" + (cursor.map { "&cursor=\($0)" } ?? "")
            let page = try await client.call(.get, path, key: key)
            answers[path] = page.json
            cursor = page["next_cursor"]?.string
        } while cursor != nil && answers.count < 100
        for path in paths {
            let answer = try await client.call(.get, path, key: key)
            #expect(answer.status == .ok, "\(path)")
            answers[path] = answer.json
        }
        let integration = try await client.call(.get, "/api/v1/integrations/echo-c", key: key)
        answers["/api/v1/integrations/echo-c"] = ["enabled": integration["enabled"] ?? .null, "config": integration["config"] ?? .null]
        return answers.mapValues { $0.removing(["last_used_at"]) }
    }

    @Test func aCopiedDeploymentAnswersTheSameOnPostgreSQLAndGoesOn() async throws {
        let plugins = try PluginFixtures.directory(["echo-c"])
        let sqlite = try TestBackend.sqlite.freshDatabase()
        let source = Self.configuration(database: sqlite, plugins: plugins)
        let store = try openStore(source.database)
        let tenant = try await store.createTenant(name: "Moving")
        let admin = try await store.createAPIKey(tenant: tenant.id, settings: APIKeySettings(name: "admin", scopes: [.admin])).secret
        let other = try await store.createTenant(name: "Staying together")
        let otherKey = try await store.createAPIKey(tenant: other.id, settings: APIKeySettings(name: "admin", scopes: [.admin])).secret

        let receiver = WebhookReceiver()
        try await receiver.run { url in
            let postgres = try TestBackend.postgres.freshDatabase()
            let databaseURL = try #require(postgres.url)
            let target = (FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-copy-\(UUID().uuidString)").path as NSString)
            let environment = ["SWITCHBOARD_DATABASE_PATH": target.appendingPathComponent("db.sqlite"), "SWITCHBOARD_LOG_LEVEL": "warning"]
            let app = try await buildApplication(configuration: source, store: store, logger: testLogger)
            // The application closes the store when it stops.
            let (conversations, before, secret, revoked, lastSeq) = try await app.test(.live) { client in
                let webhook = try await client.call(.post, "/api/v1/webhooks", key: admin, json: ["url": .string(url), "events": ["agent.*"]])
                let secret = try webhook.string("secret")
                #expect(try await client.call(.put, "/api/v1/integrations/echo-c", key: admin, json: ["enabled": true, "config": ["label": "moved"]]).status == .ok)
                let reader = try await client.call(.post, "/api/v1/api-keys", key: admin, json: ["name": "reader", "scopes": ["conversations:read"]])
                let gone = try await client.call(.post, "/api/v1/api-keys", key: admin, json: ["name": "gone", "scopes": ["conversations:read"]])
                let revoked = try gone.string("secret")
                #expect(try await client.call(.delete, "/api/v1/api-keys/\(gone.string("id"))", key: admin).status == .ok)
                #expect(try await client.call(.post, "/api/v1/api-keys/\(reader.string("id"))/signature-keys", key: admin, json: ["algorithm": "hmac-sha256"]).status == .created)
                var conversations: [String] = []
                for index in 0..<1_000 {
                    let visitor = try await client.call(.post, "/api/v1/visitors", key: admin, json: ["name": .string("V\(index)")]).string("id")
                    let conversation = try await client.call(.post, "/api/v1/conversations", key: admin, json: ["visitor_id": .string(visitor)]).string("id")
                    let message = try await client.call(
                        .post,
                        "/api/v1/messages",
                        key: admin,
                        json: ["conversation_id": .string(conversation), "from": .string(visitor), "content": .string("hello \(index)")]
                    )
                    #expect(message.status == .created)
                    conversations.append(conversation)
                }
                _ = try await Fixtures(client: client, key: admin).agent("Before")
                try await eventually { await receiver.received.count == 1 }
                let before = try await Self.answers(client, key: admin, conversations: conversations)
                let listed = before.filter { $0.key.hasPrefix("/api/v1/conversations?") }.values.flatMap { $0["data"]?.array ?? [] }
                #expect(listed.count == 1_000 && before["/api/v1/conversations/\(conversations[0])/messages"]?["data"]?.array.count == 1)
                #expect(try await client.call(.get, "/api/v1/api-keys", key: otherKey).status == .ok)
                // A server has the database open: no copy.
                let busy = try Self.switchboard(["db", "copy", "--from", "sqlite:\(source.database.path)", "--to", databaseURL], environment: environment)
                #expect(busy.status != 0 && busy.output.contains("stop it first"), "\(busy.output)")
                let lastSeq = try #require(try await store.events(tenant: tenant.id, after: 0, limit: 100_000).last?.seq)
                return (conversations, before, secret, revoked, lastSeq)
            }


            // A deployment configured with another key could not open the copied secrets: refused before copying.
            let anotherSealingKey = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
            let wrongKey = try Self.switchboard(
                ["db", "copy", "--from", "sqlite:\(source.database.path)", "--to", databaseURL],
                environment: environment.merging(["SWITCHBOARD_SECRETS_KEY": anotherSealingKey]) { $1 }
            )
            #expect(wrongKey.status != 0 && wrongKey.output.contains("another key"), "\(wrongKey.output)")
            // Without --to, the configuration's database.url is the target.
            let copied = try Self.switchboard(
                ["db", "copy", "--from", "sqlite:\(source.database.path)"],
                environment: environment.merging(["SWITCHBOARD_DATABASE_URL": databaseURL]) { $1 }
            )
            #expect(copied.status == 0, "\(copied.output)")
            #expect(copied.output.contains("messages") && copied.output.contains(" 1000      1000") && !copied.output.contains("DIFFERS"), "\(copied.output)")
            let sourceKey = (source.database.path as NSString).deletingLastPathComponent + "/secret.key"
            #expect(FileManager.default.contents(atPath: target.appendingPathComponent("secret.key")) == FileManager.default.contents(atPath: sourceKey))
            let again = try Self.switchboard(["db", "copy", "--from", "sqlite:\(source.database.path)", "--to", databaseURL], environment: environment)
            #expect(again.status != 0 && again.output.contains("not empty"), "\(again.output)")

            var moved = Self.configuration(database: postgres, plugins: plugins)
            moved.database.path = target.appendingPathComponent("db.sqlite")
            let copy = try openStore(moved.database)
            defer { copy.close() }
            let movedApp = try await buildApplication(configuration: moved, store: copy, logger: testLogger)
            try await movedApp.test(.live) { client in
                let after = try await Self.answers(client, key: admin, conversations: conversations)
                for (path, answer) in before { #expect(after[path] == answer, "\(path)") }
                #expect(after.count == before.count)
                #expect(try await client.call(.get, "/api/v1/api-keys", key: otherKey).status == .ok)
                #expect(try await client.call(.get, "/api/v1/api-keys", key: revoked).status == .unauthorized)
                // The log goes on from the copied seqs, and the webhook's sealed secret still signs.
                _ = try await Fixtures(client: client, key: admin).agent("After")
                try await eventually { await receiver.received.count == 2 }
                let call = await receiver.received[1]
                #expect(call.json["seq"]?.int == Int(lastSeq) + 1 && call.json["event"]?.string == "agent.created")
                #expect(WebhookSignature.verify(header: call.signature, id: call.id, timestamp: call.timestamp, body: call.body, secret: secret))
            }
        }
    }
}

extension JSONValue {
    /// This value with every object member named in `keys` removed, at any depth.
    func removing(_ keys: Set<String>) -> JSONValue {
        switch self {
        case .object(let object): .object(object.filter { !keys.contains($0.key) }.mapValues { $0.removing(keys) })
        case .array(let items): .array(items.map { $0.removing(keys) })
        default: self
        }
    }
}
