import Foundation
import Hummingbird
import SwitchboardCore

/// Unauthenticated routes: liveness, readiness and the OpenAPI document.
struct SystemController {
    let store: any SwitchboardStorage
    /// How far the realtime tail has read the log.
    let follower: LogFollower
    /// The OpenAPI document as served, from `OpenAPIDocument.render`.
    let openAPI: [UInt8]

    func addRoutes(to routes: DocumentedRoutes) {
        routes.on(.get, "/health", use: health)
        routes.on(.get, "/ready", use: ready)
        routes.on(.get, "/api/v1/openapi.json", use: document)
    }

    @Sendable func health(_ request: Request, context: AppRequestContext) async throws -> Response {
        .json(bytes: #"{"status":"ok"}"#.utf8)
    }

    /// Ready when the database answers a read and takes writes and this server's realtime tail keeps
    /// up with the log (`LogFollower`); otherwise 503 with the reason (a full disk, say: reads and
    /// WebSocket delivery of committed events go on meanwhile).
    @Sendable func ready(_ request: Request, context: AppRequestContext) async throws -> Response {
        let head = try await store.lastPosition()
        if let problem = store.writeProblem {
            var unready = Problem(status: .serviceUnavailable, code: problem.code, detail: problem.detail)
            unready.headers[.retryAfter] = "30"
            throw unready
        }
        guard follower.isCaughtUp(head: head) else {
            var unready = Problem(
                status: .serviceUnavailable,
                code: "not_caught_up",
                detail: "This server's realtime delivery is behind the event log; its clients would get events late."
            )
            unready.headers[.retryAfter] = "5"
            throw unready
        }
        return .json(bytes: #"{"status":"ready"}"#.utf8)
    }

    @Sendable func document(_ request: Request, context: AppRequestContext) async throws -> Response {
        .json(bytes: openAPI)
    }
}
