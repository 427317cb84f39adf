import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import Synchronization
import SwitchboardCore
import SwitchboardServer
import SwitchboardTestSupport
import Testing

/// The shipped alerting rules (`Config/prometheus/alerts.yml`) on a real Prometheus and Alertmanager
/// (Debian's `prometheus` and `prometheus-alertmanager`), scraping a real server: three faults each
/// fire their alert, at Prometheus and as an Alertmanager notification, and resolve once removed.
@Suite(.timeLimit(.minutes(5))) struct AlertingTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The shipped rules with every `for:` and range window shortened, so that an alert fires within
    /// seconds of its fault and resolves within seconds of its removal.
    static func quickRules() throws -> String {
        let rules = try String(contentsOf: repository.appendingPathComponent("Config/prometheus/alerts.yml"), encoding: .utf8)
        return rules.replacing(/for: *\d+[smhd]/) { _ in "for: 2s" }.replacing(/\[\d+[smhd]\]/) { _ in "[10s]" }
    }

    /// What the Alertmanager's webhook receiver was told: alert name → the statuses it was notified in.
    final class Notifications: Sendable {
        private let received = Mutex<[String: Set<String>]>([:])

        func record(_ body: JSONValue) {
            guard case .array(let alerts)? = body["alerts"] else { return }
            received.withLock { received in
                for alert in alerts {
                    if let name = alert["labels"]?["alertname"]?.stringValue, let status = alert["status"]?.stringValue {
                        received[name, default: []].insert(status)
                    }
                }
            }
        }

        func statuses(_ name: String) -> Set<String> { received.withLock { $0[name] ?? [] } }
    }

    @Test func threeFaultsFireTheirAlertsAndResolveOnceRemoved() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus"),
            FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus-alertmanager")
        else {
            Issue.record("install Debian's prometheus and prometheus-alertmanager (.ci/run does)")
            return
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-alerting-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }

        // The webhook endpoint (500 while failing) and the Alertmanager's receiver, on one test server.
        let endpointFails = Atomic(true)
        let notifications = Notifications()
        let router = Router()
        router.post("/hook") { _, _ in Response(status: endpointFails.load(ordering: .relaxed) ? .internalServerError : .noContent) }
        router.post("/alerts") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            notifications.record(try JSONValue(parsing: Array(buffer: body)))
            return Response(status: .ok)
        }
        let receiver = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: testLogger)

        let server = try await IntegrationRoutesTests.server(plugins: ["fixture"]) {
            $0.metrics.token = "scrape"
            $0.webhooks.allowsPrivateNetworks = true
            $0.webhooks.allowsHTTP = true
            $0.webhooks.retrySchedule = Array(repeating: .milliseconds(100), count: 50)
            $0.webhooks.breakerThreshold = 2
            $0.webhooks.breakerCooldown = .seconds(1)
            $0.plugins.breakerThreshold = 2
            $0.plugins.maxEventAttempts = 1_000_000
        }
        let daemons = DaemonGroup()
        defer { daemons.stopAll() }
        try await receiver.test(.live) { receiverClient in
            try await server.run { client in
                let receiverPort = try #require(receiverClient.port)
                let serverPort = try #require(client.port)
                let (prometheus, alertmanager) = (try freeLoopbackPort(), try freeLoopbackPort())
                try Self.writeConfiguration(in: folder, server: serverPort, prometheus: prometheus, alertmanager: alertmanager, receiver: receiverPort)
                try daemons.start(
                    "/usr/bin/prometheus-alertmanager",
                    ["--config.file=\(folder.path)/alertmanager.yml", "--storage.path=\(folder.path)/am", "--web.listen-address=127.0.0.1:\(alertmanager)",
                        "--cluster.listen-address="]
                )
                try daemons.start(
                    "/usr/bin/prometheus",
                    ["--config.file=\(folder.path)/prometheus.yml", "--storage.tsdb.path=\(folder.path)/tsdb", "--web.listen-address=127.0.0.1:\(prometheus)"]
                )
                try await waitForDaemon("prometheus", seconds: 30) { await Self.get("http://127.0.0.1:\(prometheus)/-/ready") != nil }
                try await waitForDaemon("alertmanager", seconds: 30) { await Self.get("http://127.0.0.1:\(alertmanager)/-/ready") != nil }

                let (a, b) = (server.tenantA.key, server.tenantB.key)
                // The figures an operator watches reach Prometheus: readiness, refusals, commit times.
                #expect(try await client.call(.get, "/api/v1/agents", key: "sb_live_" + String(repeating: "x", count: 32)).status == .unauthorized)
                for query in ["sb_ready == 1", #"sb_requests_refused_total{action="auth.failed",reason="unknown_credential"} > 0"#, "sb_database_commit_seconds_count > 0"] {
                    let scraped = try await eventually(limit: .seconds(30), every: .milliseconds(500)) { await !Self.query(query, prometheus: prometheus).isEmpty }
                    #expect(scraped, "\(query) is not true at Prometheus")
                }
                // Fault 1: a webhook endpoint answering 500, until its breaker opens.
                let webhook = try await client.call(.post, "/api/v1/webhooks", key: a, json: ["url": .string("http://127.0.0.1:\(receiverPort)/hook"), "events": ["*"]])
                #expect(webhook.status == .created, "\(webhook.json)")
                // Fault 2: an integration whose backend is down: every event fails.
                #expect(try await client.call(.put, "/api/v1/integrations/fixture", key: a, json: [:]).status == .ok)
                #expect(try await client.call(.post, "/api/v1/integrations/fixture/call", key: a, json: ["op": "fixture.fail", "args": ["on": true]]).status == .ok)
                // Fault 3: a consumer held back: tenant B's instance takes 300 ms per event while events keep coming.
                #expect(try await client.call(.put, "/api/v1/integrations/fixture", key: b, json: [:]).status == .ok)
                #expect(try await client.call(.post, "/api/v1/integrations/fixture/call", key: b, json: ["op": "fixture.slow", "args": ["ms": 300]]).status == .ok)

                let alerts = ["WebhookEndpointBreakerOpen", "IntegrationBreakerOpen", "EventConsumerLagGrowing"]
                let load = Task {
                    let conversations = [
                        try await Fixtures(client: client, key: a).conversation(), try await Fixtures(client: client, key: b).conversation(),
                    ]
                    var index = 0
                    while !Task.isCancelled {
                        for (key, conversation) in zip([a, b], conversations) {
                            _ = try await Fixtures(client: client, key: key).message(in: conversation.id, from: conversation.visitor, "m\(index)")
                        }
                        index += 1
                        try await Task.sleep(for: .milliseconds(100))
                    }
                }
                // The lag alert must come from tenant B's slow instance, not from tenant A's failing one.
                let slowTenant = server.tenantB.tenantID
                let firing = try await eventually(limit: .seconds(120), every: .milliseconds(500)) {
                    let active = await Self.firingAlerts(prometheus: prometheus)
                    let slowLag = await Self.query(#"ALERTS{alertname="EventConsumerLagGrowing",alertstate="firing",tenant="\#(slowTenant)"}"#, prometheus: prometheus)
                    return alerts.allSatisfy { active.contains($0) && notifications.statuses($0).contains("firing") } && !slowLag.isEmpty
                }
                let firingNow = await Self.firingAlerts(prometheus: prometheus)
                #expect(firing, "firing at Prometheus: \(firingNow); notified: \(alerts.map { ($0, notifications.statuses($0)) })")

                // The faults are removed: each alert resolves, at Prometheus and as a notification.
                load.cancel()
                _ = await load.result
                endpointFails.store(false, ordering: .relaxed)
                #expect(try await client.call(.post, "/api/v1/integrations/fixture/call", key: a, json: ["op": "fixture.fail", "args": ["on": false]]).status == .ok)
                #expect(try await client.call(.post, "/api/v1/integrations/fixture/call", key: b, json: ["op": "fixture.slow", "args": ["ms": 0]]).status == .ok)
                let resolved = try await eventually(limit: .seconds(120), every: .milliseconds(500)) {
                    let active = await Self.firingAlerts(prometheus: prometheus)
                    return alerts.allSatisfy { !active.contains($0) && notifications.statuses($0).contains("resolved") }
                }
                let stillFiring = await Self.firingAlerts(prometheus: prometheus)
                #expect(resolved, "still firing: \(stillFiring); notified: \(alerts.map { ($0, notifications.statuses($0)) })")
            }
        }
    }

    /// Prometheus scraping the server every second with the metrics token, evaluating the quick rules
    /// every second and alerting the Alertmanager, which notifies the receiver at once, resolutions too.
    static func writeConfiguration(in folder: URL, server: Int, prometheus: Int, alertmanager: Int, receiver: Int) throws {
        try quickRules().write(to: folder.appendingPathComponent("alerts.yml"), atomically: true, encoding: .utf8)
        try "scrape".write(to: folder.appendingPathComponent("token"), atomically: true, encoding: .utf8)
        try """
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            rule_files: ["\(folder.path)/alerts.yml"]
            alerting:
              alertmanagers:
                - static_configs: [{targets: ["127.0.0.1:\(alertmanager)"]}]
            scrape_configs:
              - job_name: switchboard
                authorization: {credentials_file: "\(folder.path)/token"}
                static_configs: [{targets: ["127.0.0.1:\(server)"]}]
            """.write(to: folder.appendingPathComponent("prometheus.yml"), atomically: true, encoding: .utf8)
        try """
            route:
              receiver: test
              group_by: [alertname]
              group_wait: 1s
              group_interval: 1s
              repeat_interval: 1h
            receivers:
              - name: test
                webhook_configs:
                  - url: "http://127.0.0.1:\(receiver)/alerts"
                    send_resolved: true
            """.write(to: folder.appendingPathComponent("alertmanager.yml"), atomically: true, encoding: .utf8)
    }

    /// Daemons a test started, stopped together at its end.
    final class DaemonGroup: @unchecked Sendable {
        // @unchecked: `processes` is only touched under `lock`.
        private let lock = NSLock()
        private var processes: [SpawnedProcess] = []

        func start(_ executable: String, _ arguments: [String]) throws {
            let process = try startDaemon(executable, arguments)
            lock.withLock { processes.append(process) }
        }

        func stopAll() {
            lock.withLock { processes }.forEach(stopDaemon)
        }
    }

    /// The names of the alerts firing at Prometheus (not those pending).
    static func firingAlerts(prometheus: Int) async -> Set<String> {
        guard let body = await get("http://127.0.0.1:\(prometheus)/api/v1/alerts"), case .array(let alerts)? = body["data"]?["alerts"] else { return [] }
        return Set(alerts.filter { $0["state"]?.stringValue == "firing" }.compactMap { $0["labels"]?["alertname"]?.stringValue })
    }

    /// The series of an instant query's answer at Prometheus; empty when there are none.
    static func query(_ expression: String, prometheus: Int) async -> [JSONValue] {
        var components = URLComponents(string: "http://127.0.0.1:\(prometheus)/api/v1/query")
        components?.queryItems = [URLQueryItem(name: "query", value: expression)]
        guard let url = components?.string, case .array(let series)? = await get(url)?["data"]?["result"] else { return [] }
        return series
    }

    /// The JSON of a 200 answer to GET `url`, or nil.
    static func get(_ url: String) async -> JSONValue? {
        guard let response = try? await HTTPClient.shared.get(url: url).get(), response.status == .ok else { return nil }
        guard let body = response.body, body.readableBytes > 0 else { return .null }
        return (try? JSONValue(parsing: Array(buffer: body))) ?? .null
    }
}
