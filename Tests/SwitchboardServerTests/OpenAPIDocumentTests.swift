import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SwitchboardCore
import SwitchboardPluginHost
import SwitchboardTestSupport
import Testing

@testable import SwitchboardServer

@Suite(.timeLimit(.minutes(5))) struct OpenAPIDocumentTests {
    @Test func documentListsExactlyTheRoutesTheServerServes() async throws {
        let server = try await TestServer.make()
        let registry = RouteRegistry()
        try await server.run(registry: registry) { client in
            let served = Set(registry.routes.map { "\($0.method) \($0.path)" })
            let scopes = Dictionary(uniqueKeysWithValues: registry.routes.map { ("\($0.method) \($0.path)", $0.scope?.name) })
            let document = try await client.call(.get, "/api/v1/openapi.json", key: nil)
            #expect(document.status == .ok)
            #expect(document["openapi"]?.string?.hasPrefix("3.1") == true)
            guard case .object(let paths) = document["paths"] else {
                Issue.record("no paths")
                return
            }
            var documented = Set<String>()
            for (path, item) in paths {
                guard case .object(let operations) = item else { continue }
                for (method, operation) in operations where method != "parameters" {
                    documented.insert("\(method.uppercased()) \(path)")
                    #expect(operation["responses"] != nil, "\(method) \(path) has no responses")
                    #expect(operation["operationId"]?.string != nil, "\(method) \(path) has no operationId")
                    // The scope a route declares is the one its operation shows.
                    let scope = scopes["\(method.uppercased()) \(path)"] ?? nil
                    #expect(operation["x-required-scope"]?.string == scope, "\(method) \(path)")
                    if let scope { #expect(operation["security"]?.array.first?["bearer"]?.array == [.string(scope)]) }
                }
            }
            #expect(documented == served)
        }
    }

    /// Every enumeration the document shows is the Swift definition's: no marker is left, every list is
    /// used, and a schema's `enum` is its list.
    @Test func everyEnumerationIsItsSwiftDefinition() throws {
        let rendered = String(decoding: OpenAPIDocument.render(routes: []), as: UTF8.self)
        #expect(!rendered.contains("x-enum"))
        var named = Set<String>()
        func collect(_ value: JSONValue) {
            switch value {
            case .array(let items):
                items.forEach(collect)
            case .object(let object):
                for marker in ["x-enum", "x-enum-map"] { if case .string(let name)? = object[marker] { named.insert(name) } }
                object.values.forEach(collect)
            default:
                break
            }
        }
        collect(OpenAPIDocument.shipped)
        #expect(named == Set(OpenAPIDocument.enumerations.keys))
        let document = try JSONValue(parsing: rendered)
        let schemas = document["components"]?["schemas"]
        #expect(schemas?["Agent"]?["properties"]?["status"]?["enum"] == .array(Agent.Status.allCases.map { .string($0.rawValue) }))
        #expect(schemas?["TenantSettings"]?["properties"]?["time_zone"]?["enum"]?.array.count == TenantSettings.zoneNames.count)
        let oauthScopes = document["components"]?["securitySchemes"]?["oauth2"]?["flows"]?["clientCredentials"]?["scopes"]
        #expect(oauthScopes == .object(Dictionary(uniqueKeysWithValues: Scope.all.map { ($0.name, JSONValue.string($0.name)) })))
    }

    /// A route's JSON body and the document's request schema name the same fields, and the schema allows
    /// `null` exactly where the body gives it a meaning; every JSON request body the document shows is
    /// one a route declares (but the statistics push, read field by field against the registered types).
    @Test func requestSchemasNameExactlyTheFieldsTheirRoutesDecode() async throws {
        let server = try await TestServer.make()
        let registry = RouteRegistry()
        // A request before the server stops: one stopped at once, under load, stalled its shutdown in CI.
        try await server.run(registry: registry) { client in
            let health = try await client.call(.get, "/health", key: nil)
            #expect(health.status == .ok)
        }
        let document = try JSONValue(parsing: String(decoding: OpenAPIDocument.render(routes: registry.routes), as: UTF8.self))
        let schemas = document["components"]?["schemas"]
        /// The object schemas a request schema is made of: through `$ref`, `oneOf`/`anyOf`/`allOf` and arrays' items.
        func objects(_ schema: JSONValue?) -> [[String: JSONValue]] {
            guard case .object(let object)? = schema else { return [] }
            if case .string(let reference)? = object["$ref"] {
                return objects(schemas?[String(reference.dropFirst("#/components/schemas/".count))])
            }
            let parts = ["oneOf", "anyOf", "allOf"].flatMap { object[$0]?.array ?? [] }.flatMap { objects($0) } + objects(object["items"])
            guard case .object(let properties)? = object["properties"] else { return parts }
            return parts + [properties]
        }
        func allowsNull(_ schema: JSONValue?) -> Bool {
            guard case .object(let object)? = schema else { return false }
            if object["type"] == .string("null") || object["type"]?.array.contains(.string("null")) == true { return true }
            return ["oneOf", "anyOf"].contains { (object[$0]?.array ?? []).contains(where: allowsNull) }
        }
        var declared = Set<String>()
        for route in registry.routes {
            guard let body = route.body else { continue }
            let name = "\(route.method) \(route.path)"
            declared.insert(name)
            let schema = document["paths"]?[route.path]?[route.method.lowercased()]?["requestBody"]?["content"]?["application/json"]?["schema"]
            let properties = objects(schema).reduce(into: [String: JSONValue]()) { $0.merge($1) { first, _ in first } }
            #expect(Set(properties.keys) == body.fields, "\(name): the document's fields, then the body's")
            #expect(Set(properties.filter { allowsNull($0.value) }.keys) == body.nullableFields, "\(name): fields that may be null")
        }
        var documented = Set<String>()
        guard case .object(let paths)? = document["paths"] else { throw TestSetupError("the document has no paths") }
        for case let (path, .object(item)) in paths {
            for (method, operation) in item where operation["requestBody"]?["content"]?["application/json"] != nil {
                documented.insert("\(method.uppercased()) \(path)")
            }
        }
        #expect(documented.subtracting(declared) == ["POST /api/v1/statistics/push"])
    }

    /// Two starts serve the same bytes (no key order left to a dictionary's per-process hashing), and
    /// the zones a tenant may set are the ones this build accepts.
    @Test func theDocumentsBytesAreTheSameAfterARestart() async throws {
        var served: [ByteBuffer] = []
        for _ in 0..<2 {
            let server = try await TestServer.make()
            let body = Shared<ByteBuffer?>(nil)
            try await server.run { client in
                let bytes = try await client.execute(uri: "/api/v1/openapi.json", method: .get, headers: [:]).body
                body.withLock { $0 = bytes }
            }
            served.append(try #require(body.withLock { $0 }))
        }
        #expect(served[0] == served[1] && served[0].readableBytes > 10_000)
        let document = try JSONValue(parsing: served[0].readableBytesView)
        let zones = document["components"]?["schemas"]?["TenantSettings"]?["properties"]?["time_zone"]?["enum"]
        #expect(zones == .array(TenantSettings.zoneNames.map(JSONValue.string)) && TenantSettings.zoneNames.contains("Asia/Shanghai"))
    }

    @Test func headAnswersEveryGetRouteWithoutABody() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let agent = try await Fixtures(client: client, key: server.tenantA.key).agent()
            let get = try await client.execute(uri: "/api/v1/agents/\(agent)", method: .get, headers: [.authorization: "Bearer \(server.tenantA.key)"], body: nil)
            let head = try await client.execute(uri: "/api/v1/agents/\(agent)", method: .head, headers: [.authorization: "Bearer \(server.tenantA.key)"], body: nil)
            #expect(head.status == .ok)
            #expect(head.body.readableBytes == 0)
            #expect(head.headers[.contentLength] == String(get.body.readableBytes))
            #expect(head.headers[.eTag] == get.headers[.eTag])
            let missing = try await client.execute(uri: "/api/v1/agents/\(agent)", method: .head, headers: [:], body: nil)
            #expect(missing.status == .unauthorized)
            #expect(missing.body.readableBytes == 0)
            #expect(try await client.execute(uri: "/health", method: .head, headers: [:], body: nil).status == .ok)
        }
    }
}
