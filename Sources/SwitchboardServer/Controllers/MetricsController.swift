import Crypto
import Foundation
import Hummingbird
import Prometheus
import SwitchboardCore
import SwitchboardPluginHost
import Synchronization

/// `GET /metrics`: the Prometheus text exposition of the application's registry, for a scraper that
/// presents `metrics.token` as a bearer token. Labels include tenant ids, so the endpoint is never public.
///
/// Besides what the server counts as it goes (requests, webhook attempts, plugin calls and metrics,
/// refusals, WebSocket closes, database commits and failures), each scrape sets the gauges of how
/// things stand now: `sb_ready`, `sb_websocket_connections`, `sb_event_log_position`,
/// `sb_event_consumer_lag{consumer}` and `sb_event_consumer_lag_seconds{consumer}` (what each
/// event-log consumer, realtime aside, has still to read, and how old the oldest of it is),
/// `sb_webhook_endpoints{state}` and `sb_webhook_deliveries_waiting`, `sb_integration_instances{plugin,state}`
/// and `sb_integration_breaker_open{plugin,breaker}`, `sb_cluster_nodes` and `sb_lease_held{lease}` (1 on
/// the node holding each lease: summed over the nodes, 1); and, read at most once a minute since counting
/// rows takes a while, `sb_database_bytes` and `sb_database_rows{table}`. docs/operations.md lists them all.
struct MetricsController {
    let registry: PrometheusCollectorRegistry
    let token: String?
    let store: any SwitchboardStorage
    let hub: RealtimeHub
    let webhooks: WebhookDispatcher
    let integrations: IntegrationManager
    /// The database figures, read at most once per their lifetime.
    let figures = ExpiringCache<String, DatabaseFigures>(lifetime: 60)
    /// Every lease this node reported, so that one it gave back is reported as 0.
    let reportedLeases = ReportedLeases()

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
        // A database that cannot be read makes the node unready; the figures that need it are left as
        // they were, and the rest is still exported.
        let position = try? await store.lastPosition()
        gauge("ready", "1 when this node can serve: its database answers and takes writes.").set(Double(position != nil && store.writeProblem == nil ? 1 : 0))
        if let position {
            try? await setLogFigures(position: position)
        }
        gauge("websocket_connections", "Open WebSocket connections.").set(Double(hub.connectionCount))
        await setWebhookFigures()
        await setIntegrationFigures()
        await setClusterFigures()
        return Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer()))
        )
    }

    private func setLogFigures(position: Int64) async throws {
        gauge("event_log_position", "Position of the last committed event in the log.").set(Double(position))
        if let database = try await figures.value("", load: { try await store.figures() }) {
            gauge("database_bytes", "The database's size on disk, with its write-ahead log.").set(Double(database.databaseBytes + database.logBytes))
            for (table, count) in database.rows {
                gauge("database_rows", "Rows of each table of the database.", [("table", table)]).set(Double(count))
            }
        }
        let now = Int64(Date().timeIntervalSince1970)
        for (consumer, cursor) in try await store.cursors() {
            let labels = [("consumer", consumer)]
            gauge("event_consumer_lag", "Committed events a log consumer has not processed yet.", labels).set(Double(max(0, position - cursor)))
            let oldest = cursor < position ? try await store.events(afterPosition: cursor, limit: 1).first : nil
            gauge("event_consumer_lag_seconds", "Age of the oldest event a log consumer has not processed yet; 0 when it is caught up.", labels)
                .set(oldest.map { Double(max(0, now - $0.timestamp)) } ?? 0)
        }
    }

    private func setWebhookFigures() async {
        let (endpoints, breakersOpen) = await webhooks.breakerFigures()
        let help = "Webhook endpoints by state: enabled and healthy, enabled with the circuit breaker open or half open, disabled by the server after failing."
        gauge("webhook_endpoints", help, [("state", "healthy")]).set(Double(endpoints - breakersOpen))
        gauge("webhook_endpoints", help, [("state", "breaker_open")]).set(Double(breakersOpen))
        if let stored = try? await store.webhookFigures() {
            gauge("webhook_endpoints", help, [("state", "disabled")]).set(Double(stored.disabledEndpoints))
            gauge("webhook_deliveries_waiting", "Webhook deliveries not yet delivered nor dead, due or not.").set(Double(stored.waitingDeliveries))
        }
    }

    private func setIntegrationFigures() async {
        let instancesHelp = "Integration instances by plugin and state: running, degraded (running with parked events), failed (enabled, not started)."
        let breakersHelp = "Integration instances whose circuit breaker of calls or of event delivery is open or half open."
        for (plugin, figures) in await integrations.figures() {
            for (state, count) in [("running", figures.running), ("degraded", figures.degraded), ("failed", figures.failed)] {
                gauge("integration_instances", instancesHelp, [("plugin", plugin), ("state", state)]).set(Double(count))
            }
            for (breaker, count) in [("call", figures.callBreakersOpen), ("event", figures.eventBreakersOpen)] {
                gauge("integration_breaker_open", breakersHelp, [("plugin", plugin), ("breaker", breaker)]).set(Double(count))
            }
        }
    }

    private func setClusterFigures() async {
        let held = Set(store.heldLeases)
        let leases = reportedLeases.adding(held)
        let leaseHelp = "1 when this node holds the lease, that is does this background work for the cluster; summed over the nodes, 1."
        for lease in leases { gauge("lease_held", leaseHelp, [("lease", lease)]).set(held.contains(lease) ? 1.0 : 0.0) }
        let help = "Nodes sharing the database heard from within the last 6 s, this one included (1 on SQLite)."
        if !store.isShared {
            gauge("cluster_nodes", help).set(1.0)
        } else if let nodes = try? await store.nodes() {
            let now = Date()
            gauge("cluster_nodes", help).set(Double(nodes.count { $0.isLive(at: now) }))
        }
    }

    /// The registry's gauge `sb_<name>` with `labels`.
    private func gauge(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Prometheus.Gauge {
        registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "sb", metricName: name, unitName: "", helpText: help), labels: labels)
    }
}

/// The leases a node has reported on `/metrics`: the server's own, and every other it held once.
/// - Important: Thread-safe: the names live behind a mutex.
final class ReportedLeases: Sendable {
    private let names = Mutex<Set<String>>(Set(ServerLease.all))

    /// Every name reported so far, `held` included from now on.
    func adding(_ held: Set<String>) -> Set<String> {
        names.withLock { names in
            names.formUnion(held)
            return names
        }
    }
}
