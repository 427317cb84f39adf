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
/// how many events each event-log consumer (realtime aside, which keeps no cursor) has still to read;
/// and, read at most once a minute since counting rows takes a while, `sb_database_bytes` and
/// `sb_database_rows{table}`.
struct MetricsController {
    let registry: PrometheusCollectorRegistry
    let token: String?
    let store: any SwitchboardStorage
    let hub: RealtimeHub
    /// The database figures, read at most once per their lifetime.
    let figures = ExpiringCache<String, DatabaseFigures>(lifetime: 60)

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
        let position = try await store.lastPosition()
        registry.makeGauge(descriptor: Self.logPosition).set(Double(position))
        if let database = try await figures.value("", load: { try await store.figures() }) {
            registry.makeGauge(descriptor: Self.databaseBytes).set(Double(database.databaseBytes + database.logBytes))
            for (table, count) in database.rows {
                registry.makeGauge(descriptor: Self.databaseRows, labels: [("table", table)]).set(Double(count))
            }
        }
        for (consumer, cursor) in try await store.cursors() {
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
    private static var databaseBytes: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "sb", metricName: "database_bytes", unitName: "", helpText: "The database's size on disk, with its write-ahead log.")
    }
    private static var databaseRows: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "sb", metricName: "database_rows", unitName: "", helpText: "Rows of each table of the database.")
    }
    private static var webSocketConnections: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "sb", metricName: "websocket_connections", unitName: "", helpText: "Open WebSocket connections."
        )
    }
}
