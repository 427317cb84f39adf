import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOEmbedded
import SwitchboardCore
import SwitchboardServer

/// Measures what the security envelope adds to a request on the API-key path: the same constant
/// handler is called through a router once as a route and once behind `SecurityMiddleware`
/// and its scope check (cached key lookup, allow-lists, three rate limits, headers).
enum SecurityBenchmark {
    /// Nanoseconds per request, each the median of several rounds.
    struct Report: Sendable {
        var publicRoute: Double
        var authenticatedRoute: Double
        /// The envelope's cost per request.
        var overhead: Double { authenticatedRoute - publicRoute }
    }

    /// Runs `requests` requests per round against each route, over a store with one tenant and key.
    static func run(store: any SwitchboardStorage, requests: Int, rounds: Int = 7, logger: Logger) async throws -> Report {
        let tenant = try await store.createTenant(name: "Bench")
        let (_, secret) = try await store.createAPIKey(tenant: tenant.id, settings: APIKeySettings(name: "bench", scopes: [.agentsRead]))
        let configuration = SwitchboardConfiguration.Security(credentialRateLimit: 1_000_000_000, tenantRateLimit: 1_000_000_000, addressRateLimit: 1_000_000_000)
        let audit = AuditRecorder(log: store)
        let router = Router(context: AppRequestContext.self)
        let registry = RouteRegistry()
        let constant: DocumentedRoutes.Handler = { _, _ in .json(bytes: #"{"status":"ok"}"#.utf8) }
        DocumentedRoutes(group: router.group(), basePath: "", registry: registry, audit: nil).on(.get, "/open", use: constant)
        let security = SecurityMiddleware(
            verifiers: [APIKeyVerifier(directory: store, cache: ExpiringCache())],
            directory: store,
            tenantSecurity: ExpiringCache(),
            limiter: RateLimiter(),
            configuration: configuration,
            audit: audit
        )
        DocumentedRoutes(group: router.group("/api").add(middleware: security), basePath: "/api", registry: registry, audit: audit)
            .on(.get, "/closed", scope: .agentsRead, use: constant)
        let responder = router.buildResponder()
        let channel = EmbeddedChannel()
        try await channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 9)).get()
        let context = AppRequestContext(source: ApplicationRequestContextSource(channel: channel, logger: logger))

        func measure(_ path: String, authorization: String?) async throws -> Double {
            var head = HTTPRequest(method: .get, scheme: "http", authority: "localhost", path: path)
            if let authorization { head.headerFields[.authorization] = authorization }
            let request = Request(head: head, body: .init(buffer: ByteBuffer()))
            let start = ContinuousClock.now
            for _ in 0..<requests {
                let response = try await responder.respond(to: request, context: context)
                precondition(response.status == .ok, "\(path) answered \(response.status)")
            }
            return (ContinuousClock.now - start) / .nanoseconds(1) / Double(requests)
        }

        var open: [Double] = []
        var closed: [Double] = []
        for _ in 0..<rounds {
            open.append(try await measure("/open", authorization: nil))
            closed.append(try await measure("/api/closed", authorization: "Bearer \(secret)"))
        }
        return Report(publicRoute: open.sorted()[rounds / 2], authenticatedRoute: closed.sorted()[rounds / 2])
    }
}
