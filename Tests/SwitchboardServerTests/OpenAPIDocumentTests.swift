import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SwitchboardCore
import SwitchboardPluginHost
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
