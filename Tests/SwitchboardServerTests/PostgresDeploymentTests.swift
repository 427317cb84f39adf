import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SwitchboardCore
import SwitchboardTestSupport
import Synchronization
import Testing

/// Real `switchboard serve` processes on PostgreSQL: several on one database, one killed mid-ingest,
/// and the database itself restarted under load.
@Suite(.timeLimit(.minutes(5))) struct PostgresDeploymentTests {
    typealias ServerProcess = ServerProcessTests.ServerProcess

    /// The environment of a server on `url` in a folder of its own, with the secret key every server
    /// of the deployment shares (`keyFile`, made by the first to start).
    static func environment(url: String, keyFile: String) -> [String: String] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-node-\(UUID().uuidString)").path
        return [
            "SWITCHBOARD_SECRETS_KEY_FILE": keyFile,
            "SWITCHBOARD_SERVER_PORT": "0",
            "SWITCHBOARD_DATABASE_URL": url,
            "SWITCHBOARD_DATABASE_PATH": directory + "/db.sqlite",
            "SWITCHBOARD_PLUGINS_DIR": directory + "/plugins",
            "SWITCHBOARD_LOG_LEVEL": "info",
        ]
    }

    /// Where the deployment's secret key goes: a new private folder.
    static func sharedKeyFile() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-key-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return directory + "/secret.key"
    }

    /// What the API (`/api/v1` + `path` on `port`) answered to a request with `key` and, when given, a
    /// JSON `body`: the status (0 when no answer came) and the body as JSON, if it is.
    static func call(
        _ client: HTTPClient,
        _ method: HTTPMethod = .POST,
        port: Int,
        key: String,
        _ path: String,
        _ body: String? = nil
    ) async -> (status: Int, json: JSONValue?) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/api/v1\(path)")
        request.method = method
        request.headers.add(name: "authorization", value: "Bearer \(key)")
        if let body {
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        do {
            let response = try await client.execute(request, timeout: .seconds(15))
            let bytes = try await response.body.collect(upTo: 1 << 20)
            return (Int(response.status.code), try? SwitchboardJSON.decode(JSONValue.self, from: Array(buffer: bytes)))
        } catch {
            return (0, nil)
        }
    }

    /// What the API answered to a POST: the status and the created resource's id, if any.
    static func post(_ client: HTTPClient, port: Int, key: String, _ path: String, _ body: String) async -> (status: Int, id: String?) {
        let answer = await call(client, port: port, key: key, path, body)
        return (answer.status, answer.json?["id"]?.string)
    }

    /// A visitor and a conversation to post messages into, through `port`.
    static func conversation(_ client: HTTPClient, port: Int, key: String) async throws -> (id: String, visitor: String) {
        let visitor = try #require(await post(client, port: port, key: key, "/visitors", #"{"name": "V"}"#).id)
        let conversation = try #require(await post(client, port: port, key: key, "/conversations", #"{"visitor_id": "\#(visitor)"}"#).id)
        return (conversation, visitor)
    }

    /// The messages of `ids` the database of `settings` does not have (its one tenant's).
    static func missingMessages(_ ids: [String], in settings: DatabaseSettings) async throws -> [String] {
        let store = try openStore(settings)
        defer { store.close() }
        let tenant = try #require(try await store.tenants().first).id
        var missing: [String] = []
        for id in ids where try await store.message(id: id, tenant: tenant) == nil { missing.append(id) }
        return missing
    }

    static func message(_ conversation: (id: String, visitor: String), _ text: String) -> String {
        #"{"conversation_id": "\#(conversation.id)", "from": "\#(conversation.visitor)", "content": "\#(text)"}"#
    }

    @Test func fourServersOnOneDatabaseKeepOneGapFreeLog() async throws {
        let settings = try TestBackend.postgres.freshDatabase()
        let url = try #require(settings.url)
        let keyFile = try Self.sharedKeyFile()
        let first = try ServerProcess(environment: Self.environment(url: url, keyFile: keyFile))
        defer { first.kill() }
        let key = try #require(first.demoKey())
        var servers = [first]
        defer { for server in servers.dropFirst() { server.kill() } }
        for _ in 1..<4 { servers.append(try ServerProcess(environment: Self.environment(url: url, keyFile: keyFile))) }
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { _ = client.shutdown() }
        let conversation = try await Self.conversation(client, port: first.port, key: key)
        let ports = servers.map(\.port)
        let created = try await withThrowingTaskGroup(of: [String].self) { group in
            for (index, port) in ports.enumerated() {
                group.addTask {
                    var ids: [String] = []
                    for count in 0..<50 {
                        let answer = await Self.post(client, port: port, key: key, "/messages", Self.message(conversation, "\(index)-\(count)"))
                        #expect(answer.status == 201)
                        if let id = answer.id { ids.append(id) }
                    }
                    return ids
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(created.count == 200)

        let store = try openStore(settings)
        defer { store.close() }
        let tenant = try #require(try await store.tenants().first).id
        let events = try await store.events(tenant: tenant, after: 0, limit: 10_000)
        #expect(events.map(\.seq) == Array(1...Int64(events.count)), "one gap-free run of seqs, no duplicate")
        let received = events.filter { $0.type == .messageReceived }.compactMap { $0.data["message_id"]?.string }
        #expect(received.count == 200 && Set(received) == Set(created), "one message.received per stored message")
        let positions = try await store.events(afterPosition: 0, limit: 10_000).map(\.position)
        #expect(positions == positions.sorted() && Set(positions).count == positions.count)
    }

    @Test func everyMessageAcknowledgedBeforeAKillIsThereAfterTheRestart() async throws {
        let settings = try TestBackend.postgres.freshDatabase()
        let url = try #require(settings.url)
        let environment = Self.environment(url: url, keyFile: try Self.sharedKeyFile())
        let first = try ServerProcess(environment: environment)
        let key = try #require(first.demoKey())
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { _ = client.shutdown() }
        let conversation = try await Self.conversation(client, port: first.port, key: key)
        let acknowledged = Shared<[String]>([])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<4 {
                group.addTask {
                    for count in 0..<1_000 {
                        let answer = await Self.post(client, port: first.port, key: key, "/messages", Self.message(conversation, "\(writer)-\(count)"))
                        guard answer.status == 201, let id = answer.id else { return }
                        acknowledged.withLock { $0.append(id) }
                    }
                }
            }
            try await eventually(limit: .seconds(60)) { acknowledged.withLock { $0.count } >= 30 }
            first.kill()
            try await group.waitForAll()
        }
        let second = try ServerProcess(environment: environment)
        defer { second.kill() }
        let ids = acknowledged.withLock { $0 }
        let missing = try await Self.missingMessages(ids, in: settings)
        #expect(ids.count >= 30 && missing.isEmpty, "\(missing.count) of \(ids.count) acknowledged messages lost")
        let answer = await Self.post(client, port: second.port, key: key, "/messages", Self.message(conversation, "after"))
        #expect(answer.status == 201)
    }

    @Test func aDatabaseRestartedUnderLoadIsRejoinedWithoutLosingAnything() async throws {
        // A cluster of its own: the shared one serves the other tests meanwhile.
        let cluster = try PostgresTestCluster()
        defer { cluster.stop() }
        let url = try cluster.createDatabase()
        var environment = Self.environment(url: url, keyFile: try Self.sharedKeyFile())
        environment["SWITCHBOARD_DATABASE_STATEMENT_TIMEOUT_MS"] = "2000"
        let server = try ServerProcess(environment: environment)
        defer { server.kill() }
        let key = try #require(server.demoKey())
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { _ = client.shutdown() }
        let conversation = try await Self.conversation(client, port: server.port, key: key)
        let acknowledged = Shared<[String]>([])
        let statuses = Shared<Set<Int>>([])
        let restarted = Shared<ContinuousClock.Instant?>(nil)
        let recoveredAfter = Shared<Duration?>(nil)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var count = 0
                let deadline = ContinuousClock.now + .seconds(90)
                while recoveredAfter.withLock({ $0 }) == nil, ContinuousClock.now < deadline {
                    count += 1
                    let answer = await Self.post(client, port: server.port, key: key, "/messages", Self.message(conversation, "\(count)"))
                    statuses.withLock { _ = $0.insert(answer.status) }
                    if answer.status == 201, let id = answer.id {
                        acknowledged.withLock { $0.append(id) }
                        if let at = restarted.withLock({ $0 }) { recoveredAfter.withLock { $0 = ContinuousClock.now - at } }
                    }
                }
            }
            try await eventually(limit: .seconds(60)) { acknowledged.withLock { $0.count } >= 30 }
            try cluster.pgCtl(["restart", "-m", "immediate", "-w", "-t", "60"])
            restarted.withLock { $0 = .now }
            try await eventually(limit: .seconds(30)) { recoveredAfter.withLock { $0 } != nil }
            try await group.waitForAll()
        }
        let recovery = try #require(recoveredAfter.withLock { $0 })
        #expect(recovery < .seconds(10), "writes succeeded again \(recovery) after the restart")
        #expect(statuses.withLock { $0 }.isSubset(of: [201, 503]), "only 201 or 503: \(statuses.withLock { $0 })")
        var settings = DatabaseSettings()
        settings.url = url
        let ids = acknowledged.withLock { $0 }
        let missing = try await Self.missingMessages(ids, in: settings)
        #expect(missing.isEmpty, "\(missing.count) of \(ids.count) acknowledged messages lost")
    }
}

/// A value tasks share, behind a lock.
final class Shared<Value: Sendable>: Sendable {
    private let value: Mutex<Value>

    init(_ value: Value) { self.value = Mutex(value) }

    func withLock<Result>(_ body: (inout Value) -> Result) -> Result { value.withLock { body(&$0) } }
}
