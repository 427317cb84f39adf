import Hummingbird
import SwitchboardCore

/// The routes an application serves, recorded as they are added so the OpenAPI document can be checked against them.
public final class RouteRegistry: @unchecked Sendable {
    // @unchecked: written only while the router is built, on one task, and read after the build returned.
    /// One route: method, OpenAPI-style path (`/api/v1/agents/{id}`), the scope it requires, if any, and
    /// the JSON body it decodes, if any.
    public struct Route: Hashable, Sendable {
        public let method: String
        public let path: String
        public let scope: Scope?
        public let body: Body?
    }

    /// The fields of a JSON body a route decodes, and those for which `null` means something.
    public struct Body: Hashable, Sendable {
        public let fields: Set<String>
        public let nullableFields: Set<String>
    }

    /// Every route added so far.
    public private(set) var routes: [Route] = []

    /// Creates an empty registry.
    public init() {}

    func add(_ method: HTTPRequest.Method, _ path: String, scope: Scope?, body: (any StrictBody.Type)?) {
        routes.append(Route(method: method.rawValue, path: path, scope: scope, body: body.map { Body(fields: $0.fields, nullableFields: $0.nullableFields) }))
    }

    /// The methods served on `path` (a request path, without query), `HEAD` with each `GET`, in the
    /// order routes were added; empty for a path no route has. As the router does, a literal segment
    /// wins over a capture: `/tickets/sync` is not `/tickets/{id}`.
    func methods(servedOn path: Substring) -> [String] {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        var best: (literals: [Bool], methods: [String])?
        for route in routes {
            let pattern = route.path.split(separator: "/", omittingEmptySubsequences: false)
            guard pattern.count == segments.count,
                zip(pattern, segments).allSatisfy({ expected, given in expected.first == "{" ? !given.isEmpty : expected == given })
            else { continue }
            let literals = pattern.map { $0.first != "{" }
            let methods = [route.method] + (route.method == "GET" ? ["HEAD"] : [])
            if let current = best, current.literals == literals {
                best?.methods += methods.filter { !current.methods.contains($0) }
            } else if best == nil || Self.isMoreSpecific(literals, than: best?.literals ?? []) {
                best = (literals, methods)
            }
        }
        return best?.methods ?? []
    }

    /// Whether a pattern with literal segments at `literals` wins over one with `other`: at the first
    /// segment where they differ, it has the literal.
    private static func isMoreSpecific(_ literals: [Bool], than other: [Bool]) -> Bool {
        zip(literals, other).first { $0 != $1 }?.0 ?? false
    }
}

/// A router group that records each route it adds, with the scope it requires.
///
/// This is the one place a route's scope is declared: the handler is wrapped in the check, and the
/// OpenAPI document shows the same scope.
package struct DocumentedRoutes {
    package typealias Handler = @Sendable (Request, AppRequestContext) async throws -> Response

    let group: RouterGroup<AppRequestContext>
    let basePath: String
    let registry: RouteRegistry
    /// Records refused scope checks; nil for a group of public routes, which take no scope.
    let audit: AuditRecorder?

    package init(group: RouterGroup<AppRequestContext>, basePath: String, registry: RouteRegistry, audit: AuditRecorder?) {
        self.group = group
        self.basePath = basePath
        self.registry = registry
        self.audit = audit
    }

    /// Adds a route; `path` uses `{name}` captures and is relative to the group. A `GET` route also answers
    /// `HEAD`, whose body `HeadMiddleware` drops.
    /// - Parameters:
    ///   - scope: what the principal must hold; required exactly on authenticated groups.
    ///   - body: the JSON body the handler decodes (`OpenAPIDocumentTests` holds the document's request
    ///     schema to its fields).
    package func on(_ method: HTTPRequest.Method, _ path: String, scope: Scope? = nil, body: (any StrictBody.Type)? = nil, use handler: @escaping Handler) {
        precondition((scope != nil) == (audit != nil), "\(method) \(basePath + path): an authenticated route needs a scope, a public one takes none")
        registry.add(method, basePath + path, scope: scope, body: body)
        let target = "\(method) \(basePath + path)"
        let guarded: Handler =
            if let scope, let audit {
                { request, context in
                    let principal = context.requirePrincipal
                    guard principal.allows(scope) else {
                        audit.submit(
                            .accessDenied,
                            context: context,
                            tenantID: principal.tenantID,
                            target: target,
                            detail: ["reason": "missing_scope", "scope": scope.name]
                        )
                        throw Problem.missingScope(scope)
                    }
                    return try await handler(request, context)
                }
            } else {
                handler
            }
        group.on(RouterPath(stringLiteral: path), method: method, use: guarded)
        if method == .get { group.on(RouterPath(stringLiteral: path), method: .head, use: guarded) }
    }
}
