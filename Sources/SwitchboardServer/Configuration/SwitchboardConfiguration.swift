import Logging
import SwitchboardCore
import SwitchboardPluginHost

/// Every setting of a Switchboard server, with defaults that run a demo on an embedded database.
///
/// Loaded from a TOML file (`Config/switchboard.toml` documents every key) and overridden by
/// `SWITCHBOARD_*` environment variables; see `SwitchboardConfiguration+Loading.swift`.
public struct SwitchboardConfiguration: Sendable {
    /// The HTTP listener.
    public struct Server: Sendable {
        public var host: String
        public var port: Int
        /// The largest request body accepted, in bytes; larger ones get 413.
        public var bodyLimit: Int
        /// Seconds from a request's first byte (or the connection's start) to the end of its headers.
        public var headerTimeoutSeconds: Int
        /// The longest pause, in seconds, between reads of a request body.
        public var bodyTimeoutSeconds: Int
        /// Seconds a keep-alive connection may wait for its next request.
        public var idleTimeoutSeconds: Int
        /// The most connections at once, HTTP and WebSocket; 0: the file limit less a reserve for the
        /// database, plugins and outgoing requests.
        public var maxConnections: Int
        /// The most connections at once from one client address (trusted proxies are not limited).
        public var maxConnectionsPerAddress: Int

        /// Creates listener settings.
        public init(
            host: String = "127.0.0.1",
            port: Int = 8080,
            bodyLimit: Int = 1_048_576,
            headerTimeoutSeconds: Int = 10,
            bodyTimeoutSeconds: Int = 30,
            idleTimeoutSeconds: Int = 60,
            maxConnections: Int = 0,
            maxConnectionsPerAddress: Int = 1_000
        ) {
            self.host = host
            self.port = port
            self.bodyLimit = bodyLimit
            self.headerTimeoutSeconds = headerTimeoutSeconds
            self.bodyTimeoutSeconds = bodyTimeoutSeconds
            self.idleTimeoutSeconds = idleTimeoutSeconds
            self.maxConnections = maxConnections
            self.maxConnectionsPerAddress = maxConnectionsPerAddress
        }
    }

    /// First-start behaviour.
    public struct Bootstrap: Sendable {
        /// Create a demo tenant with an admin key, printed once, when the database has no tenant.
        public var createsDemoTenant: Bool

        /// Creates bootstrap settings.
        public init(createsDemoTenant: Bool = true) {
            self.createsDemoTenant = createsDemoTenant
        }
    }

    /// REST API behaviour.
    public struct API: Sendable {
        /// How long an `Idempotency-Key` is remembered, in hours.
        public var idempotencyRetentionHours: Int
        /// How long events stay in the log, in days; 0 keeps them forever. Events a consumer has not read
        /// yet are kept regardless.
        public var eventRetentionDays: Int

        /// Creates API settings.
        /// Days finished webhook deliveries and their attempts are kept (pending ones always are); 0: forever.
        public var webhookDeliveryRetentionDays: Int = 30
        /// Days audit events are kept; 0: forever.
        public var auditRetentionDays: Int = 365

        public init(idempotencyRetentionHours: Int = 24, eventRetentionDays: Int = 30) {
            self.idempotencyRetentionHours = idempotencyRetentionHours
            self.eventRetentionDays = eventRetentionDays
        }
    }

    /// Plugins and tenants' integrations.
    public struct Plugins: Sendable {
        /// The folder scanned for `*.so` plugin files at start.
        public var directory: String
        /// Lets plugin HTTP requests reach loopback and private networks (the SSRF guard otherwise refuses them).
        public var allowsPrivateNetworks: Bool
        /// A JSON file of integrations applied at start: `[{"tenant", "plugin", "enabled", "config"}]`.
        public var integrationsFile: String?
        /// The first retry pause of a failed event delivery, in milliseconds; it doubles up to a minute.
        public var retryBaseMilliseconds: Int
        /// Consecutive failures that open an instance's circuit breaker.
        public var breakerThreshold: Int
        /// Seconds an open breaker sheds calls before a probe.
        public var breakerCooldownSeconds: Int
        /// Where plugins run unless listed in `subprocessPlugins`.
        public var isolation: IntegrationManager.Isolation
        /// Plugin ids that always run in a supervised child process.
        public var subprocessPlugins: Set<String>
        /// The `switchboard` executable that runs `plugin-host`; nil: this process's own executable.
        public var hostExecutable: String?
        /// Seconds between rounds of the ticketing sync: pending tickets created externally, statuses pulled.
        public var ticketingSyncSeconds: Int
        /// Seconds a visitor's CRM record is served without asking the CRM again.
        public var crmCacheSeconds: Int
        /// Failed attempts (error status, crash of the child, timeout) after which an event is parked.
        public var maxEventAttempts: Int = 10
        /// Days parked events are kept; 0: forever.
        public var parkedEventRetentionDays: Int = 30

        /// Creates plugin settings.
        public init(
            directory: String = "plugins",
            allowsPrivateNetworks: Bool = false,
            integrationsFile: String? = nil,
            retryBaseMilliseconds: Int = 500,
            breakerThreshold: Int = 5,
            breakerCooldownSeconds: Int = 30,
            isolation: IntegrationManager.Isolation = .inProcess,
            subprocessPlugins: Set<String> = [],
            hostExecutable: String? = nil,
            ticketingSyncSeconds: Int = 10,
            crmCacheSeconds: Int = 300
        ) {
            self.directory = directory
            self.allowsPrivateNetworks = allowsPrivateNetworks
            self.integrationsFile = integrationsFile
            self.retryBaseMilliseconds = retryBaseMilliseconds
            self.breakerThreshold = breakerThreshold
            self.breakerCooldownSeconds = breakerCooldownSeconds
            self.isolation = isolation
            self.subprocessPlugins = subprocessPlugins
            self.hostExecutable = hostExecutable
            self.ticketingSyncSeconds = ticketingSyncSeconds
            self.crmCacheSeconds = crmCacheSeconds
        }
    }

    /// Webhook delivery.
    public struct Webhooks: Sendable {
        /// Let endpoints be on loopback and private networks (the SSRF guard otherwise refuses them).
        public var allowsPrivateNetworks: Bool
        /// Accept `http://` endpoint URLs; otherwise only `https://`.
        public var allowsHTTP: Bool
        /// The pause before each retry, in order (full jitter: a random pause up to it); after the last, a
        /// delivery is dead. The default adds up to about 23 hours.
        public var retrySchedule: [Duration]
        /// Consecutive failed attempts that open an endpoint's circuit breaker, and how long it stays open.
        public var breakerThreshold: Int
        public var breakerCooldown: Duration
        /// An endpoint whose attempts all failed for this long is disabled.
        public var disableAfter: Duration
        /// How long a rotated-out secret keeps signing beside the new one.
        public var secretGrace: Duration
        /// Webhook requests in flight at once across every endpoint.
        public var maxConcurrentDeliveries: Int

        /// Creates webhook settings.
        public init(
            allowsPrivateNetworks: Bool = false,
            allowsHTTP: Bool = false,
            retrySchedule: [Duration] = [.seconds(5), .seconds(300), .seconds(1_800), .seconds(7_200), .seconds(18_000), .seconds(36_000), .seconds(21_600)],
            breakerThreshold: Int = 5,
            breakerCooldown: Duration = .seconds(60),
            disableAfter: Duration = .seconds(5 * 86_400),
            secretGrace: Duration = .seconds(86_400),
            maxConcurrentDeliveries: Int = 64
        ) {
            self.allowsPrivateNetworks = allowsPrivateNetworks
            self.allowsHTTP = allowsHTTP
            self.retrySchedule = retrySchedule
            self.breakerThreshold = breakerThreshold
            self.breakerCooldown = breakerCooldown
            self.disableAfter = disableAfter
            self.secretGrace = secretGrace
            self.maxConcurrentDeliveries = maxConcurrentDeliveries
        }
    }

    /// The Prometheus endpoint.
    public struct Metrics: Sendable {
        /// The bearer token a scraper sends to GET /metrics; nil disables the endpoint.
        public var token: String?

        /// Creates metrics settings.
        public init(token: String? = nil) {
            self.token = token
        }
    }

    /// Authentication, rate limits and client addresses.
    public struct Security: Sendable {
        /// Proxies whose `X-Forwarded-For` is believed; a request from anywhere else is attributed to its peer.
        public var trustedProxies: [IPAddressRange]
        /// Requests per minute per credential, per tenant and per client address; 0 turns a limit off.
        /// Keys and tenants may set their own credential and tenant limits.
        public var credentialRateLimit: Int
        public var tenantRateLimit: Int
        public var addressRateLimit: Int
        /// Failed authentications per minute per client address before it gets 429.
        public var failedAuthenticationLimit: Int
        /// Let tenants' token issuers publish their JWKS on loopback and private networks.
        public var allowsPrivateIdentityProviders: Bool
        /// Seconds a fetched JWKS is used, and the least seconds between early refetches for an unknown `kid`.
        public var jwksCacheSeconds: Int
        public var jwksRefetchSeconds: Int

        /// Creates security settings.
        public init(
            trustedProxies: [IPAddressRange] = [],
            credentialRateLimit: Int = 6_000,
            tenantRateLimit: Int = 30_000,
            addressRateLimit: Int = 12_000,
            failedAuthenticationLimit: Int = 20,
            allowsPrivateIdentityProviders: Bool = false,
            jwksCacheSeconds: Int = 600,
            jwksRefetchSeconds: Int = 30
        ) {
            self.trustedProxies = trustedProxies
            self.credentialRateLimit = credentialRateLimit
            self.tenantRateLimit = tenantRateLimit
            self.addressRateLimit = addressRateLimit
            self.failedAuthenticationLimit = failedAuthenticationLimit
            self.allowsPrivateIdentityProviders = allowsPrivateIdentityProviders
            self.jwksCacheSeconds = jwksCacheSeconds
            self.jwksRefetchSeconds = jwksRefetchSeconds
        }
    }

    /// The WebSocket at `/ws`.
    public struct Realtime: Sendable {
        /// Seconds without a data frame from the client before it is closed (4000); the seed's clients
        /// send a JSON ping every 30 s.
        public var idleTimeoutSeconds: Int
        /// Agents whose last connection closed go offline after this many seconds without a new one.
        public var presenceGraceSeconds: Int
        /// Frames waiting to be sent before the connection counts as a slow consumer and is closed (4001).
        public var sendQueueLimit: Int
        /// The largest frame in either direction, in bytes (1009 above).
        public var maxFrameBytes: Int
        /// Frames per second a client may send, with bursts of twice as many (4002 above).
        public var framesPerSecond: Int
        /// Open connections per principal (4003) and per tenant (4004).
        public var maxConnectionsPerPrincipal: Int
        public var maxConnectionsPerTenant: Int

        /// Creates realtime settings.
        public init(
            idleTimeoutSeconds: Int = 75,
            presenceGraceSeconds: Int = 30,
            sendQueueLimit: Int = 1_024,
            maxFrameBytes: Int = 65_536,
            framesPerSecond: Int = 20,
            maxConnectionsPerPrincipal: Int = 20,
            maxConnectionsPerTenant: Int = 20_000
        ) {
            self.idleTimeoutSeconds = idleTimeoutSeconds
            self.presenceGraceSeconds = presenceGraceSeconds
            self.sendQueueLimit = sendQueueLimit
            self.maxFrameBytes = maxFrameBytes
            self.framesPerSecond = framesPerSecond
            self.maxConnectionsPerPrincipal = maxConnectionsPerPrincipal
            self.maxConnectionsPerTenant = maxConnectionsPerTenant
        }
    }

    /// Statistics rollups and their sinks.
    public struct Statistics: Sendable {
        /// Events the aggregator rolls up per transaction.
        public var batchSize: Int
        /// Seconds between deliveries of changed rollups to each statistics-sink integration.
        public var sinkIntervalSeconds: Int

        /// Creates statistics settings.
        public init(batchSize: Int = 1_024, sinkIntervalSeconds: Int = 15) {
            self.batchSize = batchSize
            self.sinkIntervalSeconds = sinkIntervalSeconds
        }
    }

    /// HTTPS and WSS served by the server itself.
    public struct TLS: Sendable {
        /// PEM certificate chain and private key; with both set the listener speaks TLS 1.2 and 1.3 only.
        /// SIGHUP reloads them for new connections.
        public var certificate: String?
        public var privateKey: String?
        /// A plain-HTTP port that answers every request with 308 to HTTPS; nil: no plain listener at all.
        public var redirectPort: Int?
        /// `Strict-Transport-Security: max-age` on every HTTPS response; 0 sends none.
        public var hstsMaxAgeSeconds: Int

        /// Creates TLS settings; the default serves plain HTTP.
        public init(certificate: String? = nil, privateKey: String? = nil, redirectPort: Int? = nil, hstsMaxAgeSeconds: Int = 31_536_000) {
            self.certificate = certificate
            self.privateKey = privateKey
            self.redirectPort = redirectPort
            self.hstsMaxAgeSeconds = hstsMaxAgeSeconds
        }

        /// Whether the listener speaks TLS.
        public var isEnabled: Bool { certificate != nil && privateKey != nil }
    }

    /// The built-in OAuth 2.0 authorization server (client-credentials grant).
    public struct OAuth: Sendable {
        /// The `iss` of its tokens and the base of its metadata URLs; nil: `http://<server.host>:<server.port>`.
        public var issuer: String?
        /// The `aud` its tokens carry and this server requires.
        public var audience: String
        /// How long an access token lives, in seconds.
        public var accessTokenLifetimeSeconds: Int
        /// How long one signing key signs before the next takes over, in hours.
        public var keyRotationHours: Int

        /// Creates OAuth settings.
        public init(issuer: String? = nil, audience: String = "switchboard", accessTokenLifetimeSeconds: Int = 900, keyRotationHours: Int = 24) {
            self.issuer = issuer
            self.audience = audience
            self.accessTokenLifetimeSeconds = accessTokenLifetimeSeconds
            self.keyRotationHours = keyRotationHours
        }
    }

    /// The key that seals stored secrets (plugin config fields, webhook signing secrets).
    public struct Secrets: Sendable {
        /// An AES-256 key, base64 of 32 bytes; nil uses (and on first start creates) `keyFile`.
        public var key: String?
        /// The key file used without `key`; nil: `secret.key` beside the database file.
        public var keyFile: String?

        /// Creates secret settings.
        public init(key: String? = nil, keyFile: String? = nil) {
            self.key = key
            self.keyFile = keyFile
        }
    }

    public var server: Server
    public var database: DatabaseSettings
    public var bootstrap: Bootstrap
    public var api: API
    public var plugins: Plugins
    public var secrets: Secrets
    public var webhooks: Webhooks
    public var metrics: Metrics
    public var security: Security
    public var oauth: OAuth
    public var tls: TLS
    public var realtime: Realtime
    public var statistics: Statistics
    /// The lowest level the executable prints.
    public var logLevel: Logger.Level

    /// Creates a configuration; every part has its default.
    public init(
        server: Server = .init(),
        database: DatabaseSettings = .init(),
        bootstrap: Bootstrap = .init(),
        api: API = .init(),
        plugins: Plugins = .init(),
        secrets: Secrets = .init(),
        webhooks: Webhooks = .init(),
        metrics: Metrics = .init(),
        security: Security = .init(),
        oauth: OAuth = .init(),
        tls: TLS = .init(),
        realtime: Realtime = .init(),
        statistics: Statistics = .init(),
        logLevel: Logger.Level = .info
    ) {
        self.server = server
        self.database = database
        self.bootstrap = bootstrap
        self.api = api
        self.plugins = plugins
        self.secrets = secrets
        self.webhooks = webhooks
        self.metrics = metrics
        self.security = security
        self.oauth = oauth
        self.tls = tls
        self.realtime = realtime
        self.statistics = statistics
        self.logLevel = logLevel
    }
}
