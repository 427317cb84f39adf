import Hummingbird

/// The routes an application serves, recorded as they are added so the OpenAPI document can be checked against them.
public final class RouteRegistry: @unchecked Sendable {
    // @unchecked: written only while the router is built, on one task, and read after the build returned.
    /// One route: method and OpenAPI-style path (`/api/v1/agents/{id}`).
    public struct Route: Hashable, Sendable {
        public let method: String
        public let path: String
    }

    /// Every route added so far.
    public private(set) var routes: [Route] = []

    /// Creates an empty registry.
    public init() {}

    func add(_ method: HTTPRequest.Method, _ path: String) {
        routes.append(Route(method: method.rawValue, path: path))
    }
}

/// A router group that records each route it adds.
struct DocumentedRoutes {
    typealias Handler = @Sendable (Request, AppRequestContext) async throws -> Response

    let group: RouterGroup<AppRequestContext>
    let basePath: String
    let registry: RouteRegistry

    /// Adds a route; `path` uses `{name}` captures and is relative to the group. A `GET` route also answers
    /// `HEAD`, whose body `HeadMiddleware` drops.
    func on(_ method: HTTPRequest.Method, _ path: String, use handler: @escaping Handler) {
        registry.add(method, basePath + path)
        group.on(RouterPath(stringLiteral: path), method: method, use: handler)
        if method == .get { group.on(RouterPath(stringLiteral: path), method: .head, use: handler) }
    }
}
