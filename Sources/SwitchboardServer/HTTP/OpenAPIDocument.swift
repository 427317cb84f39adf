import Foundation
import SwitchboardCore
import SwitchboardPluginHost

/// The OpenAPI 3.1 document as served: the shipped resource (written by `scripts/openapi.py`) with
/// each operation's required scope filled in from the routes themselves, every enumeration from the
/// Swift definition the server decodes with (`enumerations`), and the error catalogue
/// (`x-error-codes`), so none can disagree with the server. Its keys are sorted: the bytes are the
/// same at every start.
enum OpenAPIDocument {
    /// The lists the resource's markers name: a schema with `"x-enum": name` gets `enum` set to the
    /// list, an object `{"x-enum-map": name}` becomes `{value: value}` for each value of it.
    static let enumerations: [String: [String]] = [
        "AgentRole": Agent.Role.allCases.map(\.rawValue),
        "AgentStatus": Agent.Status.allCases.map(\.rawValue),
        "BreakerState": CircuitBreaker.State.Kind.allCases.map(\.rawValue),
        "ConversationStatus": Conversation.Status.allCases.map(\.rawValue),
        "DeliveryStatus": WebhookDelivery.Status.all.map(\.name),
        "ErrorCode": ErrorCatalogue.entries.filter(\.isProblem).map(\.code),
        "Granularity": ReportQuery.Granularity.all.map(\.name),
        "IntegrationState": IntegrationView.State.Kind.allCases.map(\.rawValue),
        "PluginCapability": PluginManifest.Capability.all.map(\.name),
        "Role": Role.all.map(\.name),
        "Scope": Scope.all.map(\.name),
        "SignatureAlgorithm": SignatureKey.Algorithm.all.map(\.name),
        "StatisticType": StatisticType.all.map(\.name),
        "TicketPriority": Ticket.Priority.allCases.map(\.rawValue),
        "TicketStatus": Ticket.Status.allCases.map(\.rawValue),
        "TicketSyncOutcome": TicketController.SyncResult.Outcome.allCases.map(\.rawValue),
        "TimeZone": TenantSettings.zoneNames,
        "TokenAlgorithm": TokenIssuer.Kind.all.flatMap(TokenIssuer.allowedAlgorithms(for:)),
        "TokenIssuerKind": TokenIssuer.Kind.all.map(\.name),
    ]

    /// The resource with every scoped route's `security` and `x-required-scope` set.
    static func render(routes: [RouteRegistry.Route]) -> [UInt8] {
        guard case .object(var document) = shipped, case .object(var paths) = document["paths"] else {
            preconditionFailure("openapi.json has no paths")
        }
        for route in routes {
            guard let scope = route.scope, case .object(var item) = paths[route.path],
                case .object(var operation) = item[route.method.lowercased()]
            else { continue }
            let requirement = JSONValue.array([.string(scope.name)])
            operation["security"] = .array(["bearer", "apiKey", "oauth2", "httpSignature", "directory"].map { .object([$0: requirement]) })
            operation["x-required-scope"] = .string(scope.name)
            item[route.method.lowercased()] = .object(operation)
            paths[route.path] = .object(item)
        }
        document["paths"] = .object(paths)
        document["x-error-codes"] = .array(
            ErrorCatalogue.entries.map { entry -> JSONValue in
                .object(["code": .string(entry.code), "status": .string(entry.status), "meaning": .string(entry.meaning)])
            }
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(fillingEnumerations(.object(document))) else { preconditionFailure("openapi.json does not encode") }
        return Array(data)
    }

    /// `value` with every `x-enum` and `x-enum-map` marker replaced by the list it names.
    static func fillingEnumerations(_ value: JSONValue) -> JSONValue {
        switch value {
        case .array(let items):
            return .array(items.map(fillingEnumerations))
        case .object(var object):
            if case .string(let name)? = object["x-enum-map"] {
                return .object(Dictionary(uniqueKeysWithValues: enumeration(name).map { ($0, JSONValue.string($0)) }))
            }
            if case .string(let name)? = object.removeValue(forKey: "x-enum") {
                object["enum"] = .array(enumeration(name).map(JSONValue.string))
            }
            return .object(object.mapValues(fillingEnumerations))
        default:
            return value
        }
    }

    private static func enumeration(_ name: String) -> [String] {
        guard let values = enumerations[name] else { preconditionFailure("openapi.json names an enumeration '\(name)' that OpenAPIDocument.enumerations lacks") }
        return values
    }

    static let shipped: JSONValue = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json"), let data = try? Data(contentsOf: url),
            let document = try? JSONValue(parsing: data)
        else { preconditionFailure("openapi.json is missing from the SwitchboardServer resources") }
        return document
    }()
}
