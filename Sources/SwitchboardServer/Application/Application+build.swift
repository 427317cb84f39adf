import Crypto
import Hummingbird
import HummingbirdCore
import Logging
import Prometheus
import ServiceLifecycle
import SwitchboardCore
import SwitchboardPluginHost

/// Builds the HTTP application the `serve` command runs, over an open store: loads the plugin folder and
/// starts every enabled integration.
///
/// The application closes `store` after the server finished its in-flight requests on shutdown.
/// - Parameters:
///   - configuration: listener, API, plugin and bootstrap settings.
///   - store: the open store; owned by the application from now on.
///   - logger: the logger of the server and its requests.
///   - registry: receives every route added, for checking the OpenAPI document.
/// - Throws: `ConfigurationError` for an unusable secret key or integrations file, or sealed secrets without a key.
public func buildApplication(
    configuration: SwitchboardConfiguration,
    store: any SwitchboardStorage,
    logger: Logger,
    registry: RouteRegistry = RouteRegistry()
) async throws -> some ApplicationProtocol {
    let metrics = PrometheusCollectorRegistry()
    let metricsFactory = PrometheusMetricsFactory(registry: metrics)
    store.observe(with: DatabaseMetrics(factory: metricsFactory))
    let secrets = try configuration.secrets.makeBox(databasePath: configuration.database.path)
    let (manager, httpClient) = try await startIntegrations(
        configuration: configuration.plugins,
        store: store,
        secrets: secrets,
        metrics: metricsFactory,
        connectionsPerHost: configuration.webhooks.maxConcurrentDeliveries,
        logger: logger
    )
    // Whatever fails from here on stops the plugins and the HTTP client started above, which must
    // not outlive the failed start.
    do {
        let dispatcher = WebhookDispatcher(
            store: store,
            sender: WebhookSender(client: httpClient, policy: OutboundAddressPolicy(allowsPrivateNetworks: configuration.webhooks.allowsPrivateNetworks)),
            secrets: secrets,
            configuration: configuration.webhooks,
            metrics: metricsFactory,
            logger: logger
        )
        let authority = AccessTokenAuthority(
            settings: .init(
                issuer: configuration.oauth.issuer
                    ?? "\(configuration.tls.isEnabled ? "https" : "http")://\(configuration.server.host):\(configuration.server.port)",
                audience: configuration.oauth.audience,
                lifetime: .seconds(configuration.oauth.accessTokenLifetimeSeconds),
                rotation: .seconds(configuration.oauth.keyRotationHours * 3_600)
            ),
            store: store,
            secrets: secrets
        )
        try await authority.start()
        let providers = IdentityProviders(
            store: store,
            secrets: secrets,
            httpClient: httpClient,
            policy: OutboundAddressPolicy(allowsPrivateNetworks: configuration.security.allowsPrivateIdentityProviders),
            jwksLifetime: Double(configuration.security.jwksCacheSeconds),
            refetchInterval: Double(configuration.security.jwksRefetchSeconds),
            invalidatedBy: store.settingsChanged,
            logger: logger
        )
        let hub = RealtimeHub(store: store, limits: configuration.realtime, metrics: metricsFactory, logger: logger)
        let node = ClusterService.makeNodeID()
        let presence = PresenceTracker(hub: hub, store: store, node: node, grace: .seconds(configuration.realtime.presenceGraceSeconds), logger: logger)
        let realtime = RealtimeSession(
            hub: hub,
            store: store,
            log: store,
            permissions: DataPermissions(store: store),
            presence: presence,
            configuration: configuration.realtime,
            jobs: TaskPool()
        )
        let statistics = StatisticsIndex(store: store)
        let ticketing = TicketingService(integrations: manager, store: store, interval: .seconds(configuration.plugins.ticketingSyncSeconds), logger: logger)
        let customerLookup = CustomerLookup(integrations: manager, store: store, ttl: .seconds(configuration.plugins.crmCacheSeconds), logger: logger)
        // One limiter for every route; in a cluster, each quota is split among the live servers.
        let limiter = RateLimiter()
        let follower = LogFollower()
        let routers = buildRouters(
            configuration: configuration,
            ticketing: ticketing,
            customerLookup: customerLookup,
            store: store,
            authority: authority,
            providers: providers,
            secrets: secrets,
            integrations: manager,
            webhooks: WebhookController(
                store: store,
                dispatcher: dispatcher,
                secrets: secrets,
                configuration: configuration.webhooks,
                audit: AuditRecorder(log: store, metrics: metricsFactory)
            ),
            metrics: metrics,
            hub: hub,
            statistics: statistics,
            limiter: limiter,
            follower: follower,
            registry: registry
        )
        let maintenance = MaintenanceService(store: store, retention: MaintenanceService.retention(of: configuration), logger: logger)
        // Shut down in reverse order: webhooks, then plugins (they save cursors, then the shared HTTP client
        // closes), the store last.
        let address = ListeningAddress("\(configuration.server.host):\(configuration.server.port)")
        logger.info("Node", metadata: ["sb.node": "\(node)"])
        // Background work for the whole cluster runs on the server holding its lease (every lease, on SQLite).
        func leased(_ name: String, _ service: any Service) -> any Service {
            LeasedService(name: name, service: service, cluster: store, logger: logger)
        }
        var services: [any Service] = [
            StoreService(store: store),
            // WebSocket connections' jobs end here, after the HTTP server and before the store.
            TaskPoolService(pool: realtime.jobs),
            ClusterService(cluster: store, node: node, address: address, logger: logger) { limiter.share(among: $0) },
            leased(ServerLease.maintenance, maintenance), presence, PluginService(manager: manager, httpClient: httpClient, settingsChanged: store.settingsChanged, logger: logger),
            leased(ServerLease.webhooks, WebhookService(store: store, dispatcher: dispatcher, logger: logger)), RealtimeTail(log: store, hub: hub, follower: follower, logger: logger),
            leased(ServerLease.statistics, StatisticsAggregator(log: store, store: store, index: statistics, batchSize: configuration.statistics.batchSize, logger: logger)),
            leased(
                ServerLease.statisticsSink,
                StatisticsSinkService(
                    integrations: manager,
                    store: store,
                    index: statistics,
                    interval: .seconds(configuration.statistics.sinkIntervalSeconds),
                    logger: logger
                )
            ),
            leased(ServerLease.ticketSync, ticketing),
            leased(ServerLease.crm, customerLookup.consumer(log: store, logger: logger)),
        ]
        var certificates: TLSCertificates?
        switch (configuration.tls.certificate, configuration.tls.privateKey) {
        case (let certificate?, let privateKey?):
            let loaded = try TLSCertificates(certificatePath: certificate, privateKeyPath: privateKey)
            certificates = loaded
            services.append(CertificateReloadService(certificates: loaded, logger: logger))
            if let port = configuration.tls.redirectPort {
                services.append(
                    HTTPSRedirect.application(
                        host: configuration.server.host,
                        port: port,
                        httpsPort: configuration.server.port,
                        idleTimeout: .seconds(Int64(configuration.server.headerTimeoutSeconds)),
                        logger: logger
                    )
                )
            }
        case (nil, nil):
            break
        default:
            throw ConfigurationError(description: "tls.certificate and tls.private_key must be set together.")
        }
        let server = HTTPServerBuilder.switchboard(
            webSocketRouter: routers.webSocket,
            session: realtime,
            tls: certificates,
            limiter: ConnectionLimiter(
                maxConnections: configuration.server.maxConnections,
                maxPerAddress: configuration.server.maxConnectionsPerAddress,
                trustedProxies: configuration.security.trustedProxies,
                metrics: metricsFactory,
                logger: logger
            ),
            limits: .init(
                header: .seconds(Int64(configuration.server.headerTimeoutSeconds)),
                body: .seconds(Int64(configuration.server.bodyTimeoutSeconds)),
                idle: .seconds(Int64(configuration.server.idleTimeoutSeconds))
            ),
            metrics: metricsFactory
        )
        return Application(
            router: routers.http,
            server: server,
            configuration: .init(address: .hostname(configuration.server.host, port: configuration.server.port), serverName: "switchboard"),
            services: services,
            onServerRunning: { channel in
                if let port = channel.localAddress?.port { address.set("\(configuration.server.host):\(port)") }
            },
            logger: logger
        )
    } catch {
        await manager.shutdown()
        try? await httpClient.shutdown()
        throw error
    }
}

/// Builds the router with every route of REST v1 and the system routes, and the router of WebSocket
/// upgrades, which shares its security pipeline.
func buildRouters(
    configuration: SwitchboardConfiguration,
    ticketing: TicketingService,
    customerLookup: CustomerLookup,
    store: any SwitchboardStorage,
    authority: AccessTokenAuthority,
    providers: IdentityProviders,
    secrets: SecretBox,
    integrations: IntegrationManager,
    webhooks: WebhookController,
    metrics: PrometheusCollectorRegistry,
    hub: RealtimeHub,
    statistics: StatisticsIndex,
    limiter: RateLimiter,
    follower: LogFollower,
    registry: RouteRegistry
) -> (http: Router<AppRequestContext>, webSocket: Router<AppRequestContext>) {
    let router = Router(context: AppRequestContext.self)
    router.add(middleware: RequestContextMiddleware(bodyLimit: configuration.server.bodyLimit))
    if configuration.tls.isEnabled, configuration.tls.hstsMaxAgeSeconds > 0 {
        router.add(middleware: HSTSMiddleware(maxAgeSeconds: configuration.tls.hstsMaxAgeSeconds))
    }
    router.add(middleware: AccessLogMiddleware(level: .debug))
    router.add(middleware: HeadMiddleware())
    router.add(middleware: HTTPMetricsMiddleware(factory: PrometheusMetricsFactory(registry: metrics)))
    router.add(middleware: ProblemMiddleware(routes: registry))

    let audit = AuditRecorder(log: store, metrics: PrometheusMetricsFactory(registry: metrics))
    // Changes through any server of the database drop these at once (`settingsChanged`).
    let changes = store.settingsChanged
    let keyVerifier = APIKeyVerifier(directory: store, cache: ExpiringCache(invalidatedBy: changes))
    let tokenVerifier = AccessTokenVerifier(
        authority: authority,
        store: store,
        clients: ExpiringCache(invalidatedBy: changes),
        revocations: ExpiringCache(invalidatedBy: changes)
    )
    let tenantSecurity = ExpiringCache<String, TenantSecurity>(invalidatedBy: changes)
    // Directory sign-ins accepted by auth_provider plugins; dropped for a tenant when its integrations change.
    let directorySignIns = ExpiringCache<SHA256Digest, VerifiedCredential>(lifetime: 60, invalidatedBy: changes)
    let security = SecurityMiddleware(
        verifiers: [
            MessageSignatureVerifier(
                keys: store,
                directory: store,
                secrets: secrets,
                scheme: configuration.tls.isEnabled ? "https" : "http"
            ),
            keyVerifier, tokenVerifier, IdentityTokenVerifier(providers: providers),
            PluginAuthVerifier(integrations: integrations, cache: directorySignIns),
        ],
        directory: store,
        tenantSecurity: tenantSecurity,
        limiter: limiter,
        configuration: configuration.security,
        audit: audit
    )
    let api = DocumentedRoutes(group: router.group("/api/v1").add(middleware: security), basePath: "/api/v1", registry: registry, audit: audit)
    let responder = CommandResponder(store: store)
    let permissions = DataPermissions(store: store)
    let representations = RepresentationCache()
    AgentController(store: store, responder: responder, representations: representations).addRoutes(to: api)
    VisitorController(store: store, responder: responder, permissions: permissions).addRoutes(to: api)
    ConversationController(store: store, responder: responder, permissions: permissions, representations: representations).addRoutes(to: api)
    MessageController(store: store, responder: responder, permissions: permissions).addRoutes(to: api)
    EventController(log: store).addRoutes(to: api)
    CustomerController(store: store, responder: responder, permissions: permissions, lookup: customerLookup).addRoutes(to: api)
    TicketController(store: store, permissions: permissions, responder: responder, ticketing: ticketing).addRoutes(to: api)
    IntegrationController(manager: integrations, audit: audit, directorySignIns: directorySignIns).addRoutes(to: api)
    webhooks.addRoutes(to: api)
    APIKeyController(directory: store, verifier: keyVerifier, audit: audit).addRoutes(to: api)
    SecurityController(directory: store, auditLog: store, cache: tenantSecurity, audit: audit).addRoutes(to: api)
    SettingsController(directory: store, audit: audit).addRoutes(to: api)
    OAuthClientController(store: store, directory: store, clients: tokenVerifier.clients, audit: audit).addRoutes(to: api)
    TokenIssuerController(
        store: store,
        providers: providers,
        secrets: secrets,
        audit: audit,
        allowsHTTP: configuration.security.allowsPrivateIdentityProviders
    ).addRoutes(to: api)
    SignatureKeyController(store: store, directory: store, secrets: secrets, audit: audit).addRoutes(to: api)
    StatisticsController(store: store, index: statistics, permissions: permissions).addRoutes(to: api)
    SignInController(authority: authority, store: store, verifier: tokenVerifier, audit: audit).addRoutes(to: api)

    // GET /ws: a plain request (426) here; the upgrade handshake on its own router, through the same pipeline.
    let realtimeController = RealtimeController()
    let socket = router.group().add(middleware: QueryTokenMiddleware()).add(middleware: security)
    realtimeController.addRoutes(to: DocumentedRoutes(group: socket, basePath: "", registry: registry, audit: nil))
    let webSocketRouter = Router(context: AppRequestContext.self)
    webSocketRouter.add(middleware: RequestContextMiddleware(bodyLimit: configuration.server.bodyLimit))
    webSocketRouter.add(middleware: QueryTokenMiddleware())
    webSocketRouter.add(middleware: security)
    realtimeController.addWebSocketRoute(to: webSocketRouter)

    // Public routes last, so the OpenAPI document can show every scope declared above.
    let root = DocumentedRoutes(group: router.group(), basePath: "", registry: registry, audit: nil)
    SystemController(store: store, follower: follower, openAPI: OpenAPIDocument.render(routes: registry.routes)).addRoutes(to: root)
    MetricsController(
        registry: metrics, token: configuration.metrics.token, store: store, hub: hub, webhooks: webhooks.dispatcher, integrations: integrations
    ).addRoutes(to: root)
    InboundController(integrations: integrations, ticketing: ticketing).addRoutes(to: root)
    OAuthController(
        store: store,
        authority: authority,
        verifier: tokenVerifier,
        limiter: limiter,
        failurePolicy: security.failurePolicy,
        trustedProxies: configuration.security.trustedProxies
    ).addRoutes(to: root)
    return (router, webSocketRouter)
}

/// Closes the store once graceful shutdown began and the services after it stopped.
struct StoreService: Service {
    let store: any SwitchboardStorage

    func run() async throws {
        try? await gracefulShutdown()
        store.close()
    }
}
