import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SwitchboardCore
import SwitchboardPluginHost
import SwitchboardServer
import Testing

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
