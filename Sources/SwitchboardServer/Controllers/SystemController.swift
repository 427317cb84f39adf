import Foundation
import Hummingbird
import SwitchboardCore

/// Unauthenticated routes: liveness, readiness and the OpenAPI document.
struct SystemController {
    let log: any EventLog

    func addRoutes(to routes: DocumentedRoutes) {
        routes.on(.get, "/health", use: health)
        routes.on(.get, "/ready", use: ready)
        routes.on(.get, "/api/v1/openapi.json", use: openAPI)
    }

    @Sendable func health(_ request: Request, context: AppRequestContext) async throws -> Response {
        .json(bytes: #"{"status":"ok"}"#.utf8)
    }

    /// Ready when the database answers a read.
    @Sendable func ready(_ request: Request, context: AppRequestContext) async throws -> Response {
        _ = try log.lastPosition()
        return .json(bytes: #"{"status":"ready"}"#.utf8)
    }

    @Sendable func openAPI(_ request: Request, context: AppRequestContext) async throws -> Response {
        .json(bytes: Self.document)
    }

    /// The OpenAPI 3.1 document shipped as a resource.
    static let document: [UInt8] = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json"), let data = try? Data(contentsOf: url) else {
            preconditionFailure("openapi.json is missing from the SwitchboardServer resources")
        }
        return Array(data)
    }()
}
