import Foundation
import SwitchboardCore

/// The OpenAPI 3.1 document as served: the shipped resource (written by `scripts/openapi.py`) with
/// each operation's required scope filled in from the routes themselves, the time zones a tenant may
/// name from the ones this build knows, and the error codes from `ErrorCatalogue` (`x-error-codes`,
/// and the enum of `Problem.code`), so none can disagree with the server. Its keys are sorted: the
/// bytes are the same at every start.
enum OpenAPIDocument {
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
        setEnum(of: "TenantSettings", "time_zone", to: TenantSettings.zoneNames.map(JSONValue.string), in: &document)
        setEnum(of: "Problem", "code", to: ErrorCatalogue.entries.filter(\.isProblem).map { entry -> JSONValue in .string(entry.code) }, in: &document)
        document["x-error-codes"] = .array(
            ErrorCatalogue.entries.map { entry -> JSONValue in
                .object(["code": .string(entry.code), "status": .string(entry.status), "meaning": .string(entry.meaning)])
            }
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(JSONValue.object(document)) else { preconditionFailure("openapi.json does not encode") }
        return Array(data)
    }

    /// Sets the `enum` of `schema`'s `property` in the document's components.
    private static func setEnum(of schema: String, _ property: String, to values: [JSONValue], in document: inout [String: JSONValue]) {
        guard case .object(var components) = document["components"], case .object(var schemas) = components["schemas"],
            case .object(var object) = schemas[schema], case .object(var properties) = object["properties"],
            case .object(var field) = properties[property]
        else { preconditionFailure("openapi.json has no \(schema).\(property)") }
        field["enum"] = .array(values)
        properties[property] = .object(field)
        object["properties"] = .object(properties)
        schemas[schema] = .object(object)
        components["schemas"] = .object(schemas)
        document["components"] = .object(components)
    }

    private static let shipped: JSONValue = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json"), let data = try? Data(contentsOf: url),
            let document = try? JSONValue(parsing: data)
        else { preconditionFailure("openapi.json is missing from the SwitchboardServer resources") }
        return document
    }()
}
