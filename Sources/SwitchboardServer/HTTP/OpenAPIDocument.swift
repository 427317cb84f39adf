import Foundation
import SwitchboardCore

/// The OpenAPI 3.1 document as served: the shipped resource (written by `scripts/openapi.py`) with
/// each operation's required scope filled in from the routes themselves, so the two cannot disagree.
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
        guard let bytes = try? SwitchboardJSON.encode(JSONValue.object(document)) else { preconditionFailure("openapi.json does not encode") }
        return bytes
    }

    private static let shipped: JSONValue = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json"), let data = try? Data(contentsOf: url),
            let document = try? JSONValue(parsing: data)
        else { preconditionFailure("openapi.json is missing from the SwitchboardServer resources") }
        return document
    }()
}
