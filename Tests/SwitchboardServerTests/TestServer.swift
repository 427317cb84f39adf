import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import SwitchboardCore
import SwitchboardServer
import SwitchboardStore
import SwitchboardTestSupport

/// A real server on a loopback port over a fresh database (SQLite, or PostgreSQL when the run says so:
/// `TestBackend.current`), with two tenants and their API keys.
struct TestServer {
    let store: SQLStore
    let configuration: SwitchboardConfiguration
    let tenantA: Credentials
    let tenantB: Credentials

    struct Credentials {
        let tenantID: String
        let key: String
    }

    /// Opens a store in a new temporary folder and creates tenants A and B.
    static func make(configure: (inout SwitchboardConfiguration) throws -> Void = { _ in }) async throws -> TestServer {
        var configuration = SwitchboardConfiguration()
        configuration.server.port = 0
        configuration.database = try TestBackend.current.freshDatabase()
        // HummingbirdTesting's live client keeps one connection and does not reconnect when the server
        // closes it; a test that computes for a while between requests must not lose it to the header
        // or idle timeout (ConnectionLimitTests sets them short to test them).
        configuration.server.headerTimeoutSeconds = 600
        configuration.server.idleTimeoutSeconds = 600
        try configure(&configuration)
        let store = try openStore(configuration.database)
        var credentials: [Credentials] = []
        for name in ["Tenant A", "Tenant B"] {
            let tenant = try await store.createTenant(name: name)
            credentials.append(Credentials(tenantID: tenant.id, key: try await store.createAPIKey(tenant: tenant.id, settings: APIKeySettings(name: "test", scopes: [.admin])).secret))
        }
        return TestServer(store: store, configuration: configuration, tenantA: credentials[0], tenantB: credentials[1])
    }

    /// Runs the application on a loopback port for the length of `test`, then shuts it down gracefully.
    /// - Parameter registry: receives the application's routes.
    func run(registry: RouteRegistry = RouteRegistry(), _ test: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let app = try await buildApplication(configuration: configuration, store: store, logger: testLogger, registry: registry)
        try await app.test(.live) { client in try await test(client) }
    }
}

let testLogger: Logger = {
    var logger = Logger(label: "switchboard-test")
    logger.logLevel = .warning
    return logger
}()

/// Opens the store `settings` name: PostgreSQL when it has a URL, else SQLite.
func openStore(_ settings: DatabaseSettings) throws -> SQLStore {
    try openTestStore(settings, logger: testLogger)
}

/// A response with its body parsed as JSON.
struct APIResponse {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let json: JSONValue

    subscript(key: String) -> JSONValue? { json[key] }

    /// The string at `key`; throws (failing the test, not the run) when the answer has none.
    func string(_ key: String) throws -> String {
        guard let value = json[key]?.string else { throw TestSetupError("no string '\(key)' in the \(status.code) answer \(json)") }
        return value
    }
}

extension TestClientProtocol {
    /// How many times the server called `op` of `plugin` so far, whatever the answers, as `/metrics`
    /// (scraped with the bearer `metricsToken`) counts them.
    func pluginCalls(_ plugin: String, op: String, metricsToken: String) async throws -> Int {
        let scraped = try await execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer \(metricsToken)"], body: nil)
        let series = #"sb_plugin_calls_total{plugin="\#(plugin)",op="\#(op)",status=""#
        return String(buffer: scraped.body).split(separator: "\n").filter { $0.hasPrefix(series) }.compactMap { Int($0.split(separator: " ").last ?? "") }.reduce(0, +)
    }

    /// Sends a request with an API key and a raw body, and parses the JSON answer.
    func call(
        _ method: HTTPRequest.Method,
        _ uri: String,
        key: String?,
        body: String? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> APIResponse {
        var headers = extra
        if let key { headers[.authorization] = "Bearer \(key)" }
        if body != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
        let response = try await execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        let data = Data(buffer: response.body)
        let json = data.isEmpty ? JSONValue.null : try JSONDecoder().decode(JSONValue.self, from: data)
        return APIResponse(status: response.status, headers: response.headers, json: json)
    }

    /// Sends `value` as the JSON body.
    func call(
        _ method: HTTPRequest.Method,
        _ uri: String,
        key: String?,
        json value: JSONValue,
        headers: HTTPFields = [:]
    ) async throws -> APIResponse {
        let body = String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
        return try await call(method, uri, key: key, body: body, headers: headers)
    }
}

extension JSONValue {
    subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    var string: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    var int: Int? {
        integerValue.flatMap { Int(exactly: $0) }
    }

    var array: [JSONValue] {
        if case .array(let items) = self { return items }
        return []
    }
}

/// Builders for the usual fixtures of a tenant.
struct Fixtures {
    let client: any TestClientProtocol
    let key: String

    func agent(_ name: String = "Agent") async throws -> String {
        try await client.call(.post, "/api/v1/agents", key: key, json: ["name": .string(name)]).string("id")
    }

    func visitor() async throws -> String {
        try await client.call(.post, "/api/v1/visitors", key: key, json: ["name": "Visitor"]).string("id")
    }

    /// A conversation between a new visitor and a new agent.
    func conversation() async throws -> (id: String, visitor: String, agent: String) {
        let visitor = try await visitor()
        let agent = try await agent()
        let conversation = try await client.call(
            .post,
            "/api/v1/conversations",
            key: key,
            json: ["visitor_id": .string(visitor), "agent_id": .string(agent)]
        )
        return (try conversation.string("id"), visitor, agent)
    }

    func message(in conversation: String, from sender: String, _ content: String = "hello") async throws -> APIResponse {
        try await client.call(
            .post,
            "/api/v1/messages",
            key: key,
            json: ["conversation_id": .string(conversation), "from": .string(sender), "content": .string(content)]
        )
    }
}
