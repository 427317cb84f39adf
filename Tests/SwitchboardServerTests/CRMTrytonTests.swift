import AsyncHTTPClient
import Foundation
import HTTPTypes
import NIOCore
import HummingbirdTesting
import SwitchboardCore
import SwitchboardTestSupport
import Testing

/// A real Tryton 6.0 ERP (Debian's tryton-server with the party and sale modules) on loopback, on a new
/// SQLite database seeded by Tests/Fixtures/tryton/seed.py (admin password "admin").
final class Tryton: @unchecked Sendable {
    // @unchecked: one test owns it; its state is set in init and by start/stop from that test.
    static let database = "switchboard"
    let port: Int
    let directory: String
    private var process: SpawnedProcess?

    init() throws {
        port = try freeLoopbackPort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-tryton-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: "\(directory)/db", withIntermediateDirectories: true)
        let config = "[database]\nuri = sqlite://\npath = \(directory)/db\n[web]\nlisten = 127.0.0.1:\(port)\n"
        try config.write(toFile: "\(directory)/trytond.conf", atomically: true, encoding: .utf8)
        try "admin\n".write(toFile: "\(directory)/password", atomically: true, encoding: .utf8)
        FileManager.default.createFile(atPath: "\(directory)/db/\(Self.database).sqlite", contents: nil)
        let environment = ["TRYTONPASSFILE": "\(directory)/password", "PATH": "/usr/bin:/bin", "HOME": directory]
        try runTool("/usr/bin/trytond-admin", ["-c", "\(directory)/trytond.conf", "-d", Self.database, "--all", "--email", "admin@example.org"], environment: environment)
        try runTool(
            "/usr/bin/trytond-admin", ["-c", "\(directory)/trytond.conf", "-d", Self.database, "-u", "party", "sale", "--activate-dependencies"],
            environment: environment
        )
    }

    var url: String { "http://127.0.0.1:\(port)" }

    func start() async throws {
        process = try startDaemon("/usr/bin/trytond", ["-c", "\(directory)/trytond.conf"], environment: ["PATH": "/usr/bin:/bin", "HOME": directory])
        try await waitForDaemon("trytond", seconds: 30) { Slapd.accepts(port: port) }
    }

    func seed() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/tryton/seed.py").path
        try runTool("/usr/bin/env", ["python3", script, url, Self.database, "admin"])
    }

    func stop() { stopDaemon(process) }

    /// The parties whose code is `code`, read over JSON-RPC as admin: `[{id, name, phone, email}]`.
    func parties(code: String) async throws -> [JSONValue] {
        let login = try await rpc("common.db.login", ["admin", ["password": "admin"], "en"], session: nil)
        guard case .array(let pair) = login, pair.count == 2, let user = pair[0].int, let key = pair[1].string else {
            throw FixtureError(message: "Tryton login answered \(login)")
        }
        let session = "Session " + Data("admin:\(user):\(key)".utf8).base64EncodedString()
        let found = try await rpc(
            "model.party.party.search_read", [[["code", "=", .string(code)]], 0, 10, .null, ["id", "name", "phone", "email"], [:]], session: session
        )
        return found.array
    }

    private func rpc(_ method: String, _ params: JSONValue, session: String?) async throws -> JSONValue {
        var request = HTTPClientRequest(url: "\(url)/\(Self.database)/")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let session { request.headers.add(name: "Authorization", value: session) }
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(JSONValue.object(["id": 1, "method": .string(method), "params": params]))))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let answer = try JSONDecoder().decode(JSONValue.self, from: Data(buffer: try await response.body.collect(upTo: 1 << 20)))
        guard let result = answer["result"] else { throw FixtureError(message: "Tryton answered \(answer)") }
        return result
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Customers and orders looked up through the crm-tryton plugin (Swift, loaded with dlopen) in a real Tryton.
@Suite(.timeLimit(.minutes(5))) struct CRMTrytonTests {
    @Test func anOpeningConversationGetsTheCustomerAndOrdersAndAStaleCopyWhenTheCRMIsDown() async throws {
        let tryton = try Tryton()
        try await tryton.start()
        try tryton.seed()
        let server = try await TestServer.make {
            $0.plugins.directory = try PluginFixtures.directory(["crm-tryton"])
            $0.plugins.allowsPrivateNetworks = true
        }
        try await server.run { client in
            let key = server.tenantA.key
            let missing = try await client.call(.put, "/api/v1/integrations/crm-tryton", key: key, json: ["enabled": true, "config": ["url": .string(tryton.url)]])
            #expect(missing.status == .unprocessableContent)
            let config: JSONValue = ["url": .string(tryton.url), "database": .string(Tryton.database), "username": "admin", "password": "admin"]
            #expect(try await client.call(.put, "/api/v1/integrations/crm-tryton", key: key, json: ["enabled": true, "config": config]).status == .ok)

            // A known visitor opens a conversation: the customer and orders arrive without anyone asking.
            let visitor = try await client.call(.post, "/api/v1/visitors", key: key, json: ["external_id": "C-1001", "name": "Ada"]).string("id")
            let agent = try await Fixtures(client: client, key: key).agent()
            let conversation = try await client.call(
                .post, "/api/v1/conversations", key: key, json: ["visitor_id": .string(visitor), "agent_id": .string(agent)]
            ).string("id")
            try await eventually(limit: .seconds(20)) {
                let events = try await client.call(.get, "/api/v1/events?limit=200", key: key)["data"]?.array ?? []
                return events.contains { $0["event"]?.string == "customer.synced" && $0["data"]?["customer_id"]?.string == "C-1001" }
            }
            let attached = try await client.call(.get, "/api/v1/conversations/\(conversation)/customer", key: key)
            #expect(attached.status == .ok)
            #expect(attached["stale"] == .bool(false))
            #expect(attached["source"]?.string == "crm-tryton")
            #expect(attached["customer"]?["name"]?.string == "Ada Lovelace")
            #expect(attached["customer"]?["phone"]?.string == "+44 20 7946 0001")
            #expect(attached["customer"]?["email"]?.string == "ada@example.org")
            #expect(attached["customer"]?["tags"] == ["vip"])
            #expect(attached["customer"]?["visitor_ids"] == [.string(visitor)])
            let orders = attached["orders"]?.array ?? []
            #expect(orders.compactMap { $0["amount"] } == [.number(99.5), .number(20)], "newest first")
            #expect(orders.first?["currency"]?.string == "EUR")
            #expect(orders.first?["status"]?.string == "draft")
            #expect(orders.first?["create_time"] == "2026-11-20 00:00:00", "the sale date, in the seed's form")
            #expect(try await client.call(.get, "/api/v1/customers/C-1001/orders", key: key)["data"]?.array.count == 2)

            // A visitor the CRM does not know: no customer, not stale.
            let stranger = try await client.call(.post, "/api/v1/visitors", key: key, json: ["external_id": "C-404"]).string("id")
            let other = try await client.call(.post, "/api/v1/conversations", key: key, json: ["visitor_id": .string(stranger)]).string("id")
            let unknown = try await client.call(.get, "/api/v1/conversations/\(other)/customer?refresh=true", key: key)
            #expect(unknown["customer"] == .null)
            #expect(unknown["stale"] == .bool(false))
            #expect(try await client.call(.get, "/api/v1/conversations/\(other)/customer?refresh=maybe", key: key).status == .badRequest)

            // Customers written over the API go to Tryton; records that came from Tryton do not go back. One
            // whose phone Tryton's validation refuses is dropped with a warning and holds nothing up.
            #expect(try await client.call(.post, "/api/v1/customers", key: key, json: ["customer_id": "C-2001", "name": "Bad Phone", "phone": "+1 555 0100"]).status == .created)
            #expect(try await client.call(.post, "/api/v1/customers", key: key, json: ["customer_id": "C-2002", "name": "Grace Hopper", "phone": "+44 20 7946 0002"]).status == .created)
            #expect(try await client.call(.put, "/api/v1/customers/C-1001", key: key, json: ["name": "Ada King"]).status == .ok)
            try await eventually(limit: .seconds(20)) {
                let grace = try await tryton.parties(code: "C-2002").first
                let ada = try await tryton.parties(code: "C-1001").first
                return grace?["name"]?.string == "Grace Hopper" && grace?["phone"]?.string == "+44 20 7946 0002" && ada?["name"]?.string == "Ada King"
            }
            #expect(try await tryton.parties(code: "C-2001").isEmpty)

            // The CRM goes down: the stored record comes back marked stale, and chat goes on.
            tryton.stop()
            let stale = try await client.call(.get, "/api/v1/conversations/\(conversation)/customer?refresh=true", key: key)
            #expect(stale.status == .ok)
            #expect(stale["stale"] == .bool(true))
            #expect(stale["detail"]?.string != nil)
            #expect(stale["customer"]?["customer_id"]?.string == "C-1001")
            #expect(stale["orders"]?.array.count == 2)
            let sent = try await Fixtures(client: client, key: key).message(in: conversation, from: visitor, "still there?")
            #expect(sent.status == .created)
            let health = try await client.call(.get, "/api/v1/integrations/crm-tryton", key: key)["health"]
            #expect(health?["status"]?.string == "unavailable")
            #expect(try await client.call(.get, "/api/v1/conversations/\(conversation)/customer", key: server.tenantB.key).status == .notFound)

            // A customer written while Tryton is down reaches it once it is back.
            #expect(try await client.call(.post, "/api/v1/customers", key: key, json: ["customer_id": "C-3003", "name": "Katherine Johnson"]).status == .created)
            try await eventually(limit: .seconds(30)) {
                try await client.call(.get, "/api/v1/integrations/crm-tryton", key: key)["event_breaker"]?["consecutive_failures"]?.int ?? 0 >= 1
            }
            try await tryton.start()
            try await eventually(limit: .seconds(60)) { try await tryton.parties(code: "C-3003").first?["name"]?.string == "Katherine Johnson" }
            #expect(try await tryton.parties(code: "C-1001").count == 1, "Tryton's own records are not pushed back as new parties")
        }
    }
}
