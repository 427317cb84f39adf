import Foundation
import Hummingbird
import SwitchboardCore
import SwitchboardPluginHost

/// `POST /api/v1/integrations/{plugin}/inbound/{tenant}`: requests an external system sends to a
/// tenant's integration (a ticketing system's status change, say). The route takes no Switchboard
/// credential: the plugin verifies the request itself (a shared token, a signature) in
/// `inbound.receive`.
///
/// `inbound.receive` gets `{method, query, headers (lower-case names), body (text)}` and answers
/// `{status?, body?, tickets?}`: the HTTP status and JSON body to answer the sender with (200 and
/// `{"accepted": true}` by default), and ticket status reports applied as the ticketing sync applies
/// them. DENIED is 401, INVALID 422 with the plugin's message, NOT_FOUND 404 (the plugin takes no
/// inbound requests), anything else 503 so the sender retries.
struct InboundController {
    let integrations: IntegrationManager
    let ticketing: TicketingService

    func addRoutes(to routes: DocumentedRoutes) {
        routes.on(.post, "/api/v1/integrations/{plugin}/inbound/{tenant}", use: receive)
    }

    @Sendable func receive(_ request: Request, context: AppRequestContext) async throws -> Response {
        let plugin = try context.parameters.require("plugin")
        let tenant = try context.parameters.require("tenant")
        let notEnabled = SwitchboardError(kind: .notFound, code: "inbound_not_found", detail: "No integration here takes inbound requests.")
        let running = await integrations.runningPlugins(tenant: tenant, capability: .ticketing) + integrations.runningPlugins(tenant: tenant, capability: .crm)
        guard TimeOrderedIDGenerator.isWellFormed(tenant), running.contains(plugin) else { throw notEnabled }
        let body = try await CollectedBody.collect(request, context: context)
        var headers: [String: JSONValue] = [:]
        for field in request.headers { headers[field.name.canonicalName] = .string(field.value) }
        var query: [String: JSONValue] = [:]
        for (name, value) in request.uri.queryParameters { query[String(name)] = .string(String(value)) }
        let args: JSONValue = [
            "method": .string(request.method.rawValue), "query": .object(query), "headers": .object(headers),
            "body": .string(String(decoding: body.bytes.readableBytesView, as: UTF8.self)),
        ]
        let outcome = try await integrations.call(tenant: tenant, plugin: plugin, op: "inbound.receive", args: args)
        switch outcome.status {
        case .ok: break
        case .denied: throw SwitchboardError(kind: .unauthenticated, code: "inbound_unverified", detail: "The integration did not verify this request.")
        case .invalid: throw SwitchboardError(kind: .invalidInput, code: "inbound_invalid", detail: "The integration refused the request: \(outcome.text)")
        case .notFound: throw notEnabled
        default: throw SwitchboardError(kind: .unavailable, code: "inbound_unavailable", detail: "The integration cannot take the request now; retry.")
        }
        guard let answer = try? JSONValue(parsing: outcome.body) else {
            throw SwitchboardError(kind: .unavailable, code: "inbound_unavailable", detail: "The integration answered something that is not JSON.")
        }
        if case .array(let reports) = answer["tickets"] ?? .null {
            try await ticketing.apply(reports, tenant: tenant, plugin: plugin)
        }
        let status = answer["status"]?.integerValue.flatMap { (200..<300).contains($0) ? Int($0) : nil } ?? 200
        return Response.json(bytes: try SwitchboardJSON.encode(answer["body"] ?? ["accepted": true]), status: HTTPResponse.Status(code: status), version: nil)
    }
}
