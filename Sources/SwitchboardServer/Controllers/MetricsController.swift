import Crypto
import Foundation
import Hummingbird
import Prometheus

/// `GET /metrics`: the Prometheus text exposition of the application's registry, for a scraper that
/// presents `metrics.token` as a bearer token. Labels include tenant ids, so the endpoint is never public.
struct MetricsController {
    let registry: PrometheusCollectorRegistry
    let token: String?

    func addRoutes(to routes: DocumentedRoutes) {
        routes.on(.get, "/metrics", use: scrape)
    }

    @Sendable func scrape(_ request: Request, context: AppRequestContext) async throws -> Response {
        guard let token else {
            throw Problem(status: .notFound, code: "metrics_disabled", detail: "Set metrics.token to enable /metrics.")
        }
        let presented = APIKeyVerifier.bearerToken(in: request.headers) ?? ""
        guard Data(SHA256.hash(data: Array(presented.utf8))) == Data(SHA256.hash(data: Array(token.utf8))) else {
            throw Problem.unauthenticated
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer()))
        )
    }
}
