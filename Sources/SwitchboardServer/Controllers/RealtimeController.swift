import HTTPTypes
import Hummingbird

/// `GET /ws`: the WebSocket. The upgrade passes the same security pipeline as REST (the credential as
/// `?token=` or `Authorization`); a request that is not upgraded gets the pipeline's problem (401, 403,
/// 429) or 426 when the credential is fine but the request is no WebSocket handshake.
struct RealtimeController {
    /// The plain-HTTP side, on the main router.
    func addRoutes(to routes: DocumentedRoutes) {
        routes.on(.get, "/ws", use: upgradeRequired)
    }

    /// The upgrade side, on the WebSocket router: a request that passed the pipeline is accepted.
    func addWebSocketRoute(to router: Router<AppRequestContext>) {
        router.get("/ws") { _, context -> Response in
            context.webSocketAcceptance?.accept(context.requirePrincipal)
            return Response(status: .ok)
        }
    }

    @Sendable func upgradeRequired(_ request: Request, context: AppRequestContext) async throws -> Response {
        var problem = Problem(status: .upgradeRequired, code: "upgrade_required", detail: "GET /ws is a WebSocket: send the Upgrade handshake.")
        problem.headers[.upgrade] = "websocket"
        throw problem
    }
}

/// Moves a `?token=` query credential into `Authorization: Bearer`, for WebSocket clients that cannot
/// set headers (browsers); a request that has an `Authorization` header keeps it.
struct QueryTokenMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.headers[.authorization] == nil, let token = request.uri.queryParameters["token"] else {
            return try await next(request, context)
        }
        var head = request.head
        head.headerFields[.authorization] = "Bearer \(token)"
        return try await next(Request(head: head, body: request.body), context)
    }
}
