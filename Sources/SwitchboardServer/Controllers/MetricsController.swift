import Crypto
import Foundation
import Hummingbird
import Prometheus
import SwitchboardCore

/// `GET /metrics`: the Prometheus text exposition of the application's registry, for a scraper that
/// presents `metrics.token` as a bearer token. Labels include tenant ids, so the endpoint is never public.
///
/// Besides what the server counts as it goes (requests, webhook attempts, plugin calls and metrics), each
/// scrape sets `sb_websocket_connections`, `sb_event_log_position` and `sb_event_consumer_lag{consumer}`:
/// how many events each event-log consumer (realtime aside, which keeps no cursor) has still to read.
struct MetricsController {
    let registry: PrometheusCollectorRegistry
    let token: String?
    let log: any EventLog
    let hub: RealtimeHub

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
        let position = try log.lastPosition()
        registry.makeGauge(descriptor: Self.logPosition).set(Double(position))
        for (consumer, cursor) in try log.cursors() {
            registry.makeGauge(descriptor: Self.consumerLag, labels: [("consumer", consumer)]).set(Double(max(0, position - cursor)))
        }
        registry.makeGauge(descriptor: Self.webSocketConnections).set(Double(hub.connectionCount))
        return Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer()))
        )
    }

    private static var logPosition: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "sb", metricName: "event_log_position", unitName: "", helpText: "Position of the last committed event in the log."
        )
    }
    private static var consumerLag: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "sb", metricName: "event_consumer_lag", unitName: "", helpText: "Committed events a log consumer has not processed yet."
        )
    }
    private static var webSocketConnections: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "sb", metricName: "websocket_connections", unitName: "", helpText: "Open WebSocket connections."
        )
    }
}
