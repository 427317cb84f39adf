import Foundation
import Logging
import SwitchboardCore
import SwitchboardPluginHost

/// A configuration that cannot be used, with a message naming the key or line.
public struct ConfigurationError: Error, CustomStringConvertible {
    public let description: String
}

extension SwitchboardConfiguration {
    /// Loads the defaults, then the TOML file at `path` (when given), then `SWITCHBOARD_*` variables.
    ///
    /// Each key `section.name` has the variable `SWITCHBOARD_SECTION_NAME`.
    /// - Throws: `ConfigurationError` for an unreadable file, a syntax error, an unknown key or a bad value.
    public static func load(path: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Self {
        var configuration = SwitchboardConfiguration()
        if let path {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigurationError(description: "Cannot read the configuration file '\(path)'.")
            }
            let document: TOMLDocument
            do {
                document = try TOMLDocument(parsing: String(decoding: data, as: UTF8.self))
            } catch {
                throw ConfigurationError(description: "\(path): \(error)")
            }
            for (key, entry) in document.values.sorted(by: { $0.value.line < $1.value.line }) {
                guard let setting = settings.first(where: { $0.key == key }) else {
                    throw ConfigurationError(description: "\(path): line \(entry.line): unknown key '\(key)'.")
                }
                do {
                    try setting.apply(&configuration, entry.value)
                } catch let error as ConfigurationError {
                    throw ConfigurationError(description: "\(path): line \(entry.line): \(error.description)")
                }
            }
        }
        let known = Set(settings.map(\.environmentName)).union(otherEnvironmentNames)
        if let unknown = environment.keys.filter({ $0.hasPrefix("SWITCHBOARD_") && !known.contains($0) }).sorted().first {
            throw ConfigurationError(description: "\(unknown): unknown setting; the variables are SWITCHBOARD_ and a key of Config/switchboard.toml, e.g. SWITCHBOARD_SERVER_PORT.")
        }
        for setting in settings {
            guard let text = environment[setting.environmentName] else { continue }
            do {
                try setting.apply(&configuration, setting.parse(text))
            } catch let error as ConfigurationError {
                throw ConfigurationError(description: "\(setting.environmentName): \(error.description)")
            }
        }
        return configuration
    }

    /// `SWITCHBOARD_*` variables that are not settings: the configuration file's path, and the folder
    /// the bundled stats-file plugin writes to (Plugins/stats-file).
    static let otherEnvironmentNames: Set<String> = ["SWITCHBOARD_CONFIG", "SWITCHBOARD_STATS_FILE_DIR"]

    /// Every key the loader accepts, in the order `Config/switchboard.toml` documents them.
    static let settings: [Setting] = [
        .string("server.host") { $0.server.host = $1 },
        .integer("server.port", 0...65_535) { $0.server.port = $1 },
        .integer("server.body_limit", 1_024...1_073_741_824) { $0.server.bodyLimit = $1 },
        .integer("server.header_timeout_seconds", 1...3_600) { $0.server.headerTimeoutSeconds = $1 },
        .integer("server.body_timeout_seconds", 1...3_600) { $0.server.bodyTimeoutSeconds = $1 },
        .integer("server.idle_timeout_seconds", 1...86_400) { $0.server.idleTimeoutSeconds = $1 },
        .integer("server.max_connections", 0...10_000_000) { $0.server.maxConnections = $1 },
        .integer("server.max_connections_per_address", 1...10_000_000) { $0.server.maxConnectionsPerAddress = $1 },
        .string("database.path") { $0.database.path = $1 },
        .string("database.synchronous") { configuration, name in
            guard let level = DatabaseSettings.Synchronous(name: name) else {
                throw ConfigurationError(description: "'database.synchronous' must be \"full\" or \"normal\".")
            }
            configuration.database.synchronous = level
        },
        .integer("database.max_batch", 1...10_000) { $0.database.maxBatch = $1 },
        .integer("database.readers", 1...256) { $0.database.readers = $1 },
        .string("database.url") { $0.database.url = $1.isEmpty ? nil : $1 },
        .integer("database.pool_size", 2...256) { $0.database.poolSize = $1 },
        .integer("database.statement_timeout_ms", 100...600_000) { $0.database.statementTimeout = .milliseconds($1) },
        .boolean("bootstrap.demo_tenant") { $0.bootstrap.createsDemoTenant = $1 },
        .integer("api.idempotency_retention_hours", 1...8_760) { $0.api.idempotencyRetentionHours = $1 },
        .integer("api.event_retention_days", 0...36_500) { $0.api.eventRetentionDays = $1 },
        .integer("api.webhook_delivery_retention_days", 0...36_500) { $0.api.webhookDeliveryRetentionDays = $1 },
        .integer("api.audit_retention_days", 0...36_500) { $0.api.auditRetentionDays = $1 },
        .string("plugins.dir") { $0.plugins.directory = $1 },
        .boolean("plugins.allow_private_networks") { $0.plugins.allowsPrivateNetworks = $1 },
        .string("plugins.integrations_file") { $0.plugins.integrationsFile = $1 },
        .integer("plugins.retry_base_ms", 1...600_000) { $0.plugins.retryBaseMilliseconds = $1 },
        .integer("plugins.breaker_threshold", 1...1_000) { $0.plugins.breakerThreshold = $1 },
        .integer("plugins.max_event_attempts", 1...1_000) { $0.plugins.maxEventAttempts = $1 },
        .integer("plugins.parked_event_retention_days", 0...36_500) { $0.plugins.parkedEventRetentionDays = $1 },
        .integer("plugins.breaker_cooldown_seconds", 1...86_400) { $0.plugins.breakerCooldownSeconds = $1 },
        .string("plugins.isolation") { configuration, name in
            guard let isolation = IntegrationManager.Isolation(named: name) else {
                throw ConfigurationError(description: "'plugins.isolation' must be \"in_process\" or \"subprocess\".")
            }
            configuration.plugins.isolation = isolation
        },
        .strings("plugins.subprocess") { $0.plugins.subprocessPlugins = Set($1) },
        .string("plugins.host_executable") { $0.plugins.hostExecutable = $1 },
        .integer("plugins.ticketing_sync_seconds", 1...86_400) { $0.plugins.ticketingSyncSeconds = $1 },
        .integer("plugins.crm_cache_seconds", 0...86_400) { $0.plugins.crmCacheSeconds = $1 },
        .string("secrets.key") { $0.secrets.key = $1.isEmpty ? nil : $1 },
        .string("secrets.key_file") { $0.secrets.keyFile = $1.isEmpty ? nil : $1 },
        .boolean("webhooks.allow_private_networks") { $0.webhooks.allowsPrivateNetworks = $1 },
        .boolean("webhooks.allow_http") { $0.webhooks.allowsHTTP = $1 },
        .integers("webhooks.retry_schedule_ms", 0...86_400_000) { configuration, pauses in
            guard !pauses.isEmpty else { throw ConfigurationError(description: "'webhooks.retry_schedule_ms' needs at least one pause, e.g. [5000, 300000].") }
            configuration.webhooks.retrySchedule = pauses.map { .milliseconds($0) }
        },
        .integer("webhooks.breaker_threshold", 1...1_000) { $0.webhooks.breakerThreshold = $1 },
        .integer("webhooks.breaker_cooldown_seconds", 1...86_400) { $0.webhooks.breakerCooldown = .seconds($1) },
        .integer("webhooks.disable_after_hours", 1...8_760) { $0.webhooks.disableAfter = .seconds($1 * 3_600) },
        .integer("webhooks.secret_grace_hours", 0...8_760) { $0.webhooks.secretGrace = .seconds($1 * 3_600) },
        .integer("webhooks.max_concurrent_deliveries", 1...10_000) { $0.webhooks.maxConcurrentDeliveries = $1 },
        .string("metrics.token") { $0.metrics.token = $1.isEmpty ? nil : $1 },
        .strings("security.trusted_proxies") { configuration, texts in
            configuration.security.trustedProxies = try texts.map { text in
                guard let range = try? IPAddressRange(parsing: text) else {
                    throw ConfigurationError(description: "'security.trusted_proxies': '\(text)' is not an address or CIDR range, e.g. [\"10.0.0.0/8\", \"::1\"].")
                }
                return range
            }
        },
        .integer("security.rate_limit_per_credential", 0...10_000_000) { $0.security.credentialRateLimit = $1 },
        .integer("security.rate_limit_per_tenant", 0...10_000_000) { $0.security.tenantRateLimit = $1 },
        .integer("security.rate_limit_per_address", 0...10_000_000) { $0.security.addressRateLimit = $1 },
        .integer("security.failed_auth_per_address", 1...10_000) { $0.security.failedAuthenticationLimit = $1 },
        .boolean("security.allow_private_identity_providers") { $0.security.allowsPrivateIdentityProviders = $1 },
        .integer("security.jwks_cache_seconds", 1...86_400) { $0.security.jwksCacheSeconds = $1 },
        .integer("security.jwks_refetch_seconds", 0...3_600) { $0.security.jwksRefetchSeconds = $1 },
        .integer("realtime.idle_timeout_seconds", 5...86_400) { $0.realtime.idleTimeoutSeconds = $1 },
        .integer("realtime.presence_grace_seconds", 0...86_400) { $0.realtime.presenceGraceSeconds = $1 },
        .integer("realtime.send_queue_limit", 16...1_000_000) { $0.realtime.sendQueueLimit = $1 },
        .integer("realtime.max_frame_bytes", 1_024...16_777_216) { $0.realtime.maxFrameBytes = $1 },
        .integer("realtime.frames_per_second", 1...10_000) { $0.realtime.framesPerSecond = $1 },
        .integer("realtime.max_connections_per_principal", 1...100_000) { $0.realtime.maxConnectionsPerPrincipal = $1 },
        .integer("realtime.max_connections_per_tenant", 1...10_000_000) { $0.realtime.maxConnectionsPerTenant = $1 },
        .integer("statistics.batch_size", 1...100_000) { $0.statistics.batchSize = $1 },
        .integer("statistics.sink_interval_seconds", 1...86_400) { $0.statistics.sinkIntervalSeconds = $1 },
        .string("tls.certificate") { $0.tls.certificate = $1.isEmpty ? nil : $1 },
        .string("tls.private_key") { $0.tls.privateKey = $1.isEmpty ? nil : $1 },
        .integer("tls.redirect_port", 0...65_535) { $0.tls.redirectPort = $1 == 0 ? nil : $1 },
        .integer("tls.hsts_max_age_seconds", 0...100_000_000) { $0.tls.hstsMaxAgeSeconds = $1 },
        .string("oauth.issuer") { $0.oauth.issuer = $1.isEmpty ? nil : $1 },
        .string("oauth.audience") { $0.oauth.audience = $1 },
        .integer("oauth.access_token_lifetime_seconds", 60...86_400) { $0.oauth.accessTokenLifetimeSeconds = $1 },
        .integer("oauth.key_rotation_hours", 1...8_760) { $0.oauth.keyRotationHours = $1 },
        .string("log.level") { configuration, name in
            guard let level = Logger.Level(rawValue: name.lowercased()) else {
                throw ConfigurationError(description: "'log.level' must be one of trace, debug, info, notice, warning, error, critical.")
            }
            configuration.logLevel = level
        },
    ]

    /// One configuration key: its type and where it lands.
    struct Setting: Sendable {
        let key: String
        let apply: @Sendable (inout SwitchboardConfiguration, TOMLDocument.Value) throws -> Void
        let parse: @Sendable (String) throws -> TOMLDocument.Value

        var environmentName: String { "SWITCHBOARD_" + key.uppercased().replacingOccurrences(of: ".", with: "_") }

        static func string(_ key: String, _ set: @escaping @Sendable (inout SwitchboardConfiguration, String) throws -> Void) -> Setting {
            Setting(key: key) { configuration, value in
                guard case .string(let text) = value else { throw ConfigurationError(description: "'\(key)' must be a string.") }
                try set(&configuration, text)
            } parse: { .string($0) }
        }

        static func integer(
            _ key: String,
            _ range: ClosedRange<Int>,
            _ set: @escaping @Sendable (inout SwitchboardConfiguration, Int) -> Void
        ) -> Setting {
            Setting(key: key) { configuration, value in
                guard case .integer(let number) = value, range.contains(number) else {
                    throw ConfigurationError(description: "'\(key)' must be an integer from \(range.lowerBound) to \(range.upperBound).")
                }
                set(&configuration, number)
            } parse: { text in
                guard let number = Int(text) else { throw ConfigurationError(description: "'\(text)' is not an integer.") }
                return .integer(number)
            }
        }

        /// A list of strings: a TOML array, or comma-separated in the environment.
        static func strings(_ key: String, _ set: @escaping @Sendable (inout SwitchboardConfiguration, [String]) throws -> Void) -> Setting {
            Setting(key: key) { configuration, value in
                guard case .array(let items) = value else { throw ConfigurationError(description: "'\(key)' must be an array of strings, e.g. [\"a\", \"b\"].") }
                let texts = try items.map { item in
                    guard case .string(let text) = item else { throw ConfigurationError(description: "'\(key)' must be an array of strings, e.g. [\"a\", \"b\"].") }
                    return text
                }
                try set(&configuration, texts)
            } parse: { text in
                .array(text.split(separator: ",").map { .string($0.trimmingCharacters(in: .whitespaces)) }.filter { $0 != .string("") })
            }
        }

        /// A list of integers in `range`: a TOML array, or comma-separated in the environment.
        static func integers(
            _ key: String,
            _ range: ClosedRange<Int>,
            _ set: @escaping @Sendable (inout SwitchboardConfiguration, [Int]) throws -> Void
        ) -> Setting {
            let problem = ConfigurationError(description: "'\(key)' must be an array of integers from \(range.lowerBound) to \(range.upperBound), e.g. [5000, 300000].")
            return Setting(key: key) { configuration, value in
                guard case .array(let items) = value else { throw problem }
                let numbers = try items.map { item in
                    guard case .integer(let number) = item, range.contains(number) else { throw problem }
                    return number
                }
                try set(&configuration, numbers)
            } parse: { text in
                .array(
                    try text.split(separator: ",").map { part in
                        guard let number = Int(part.trimmingCharacters(in: .whitespaces)) else { throw ConfigurationError(description: "'\(part)' is not an integer.") }
                        return .integer(number)
                    }
                )
            }
        }

        static func boolean(_ key: String, _ set: @escaping @Sendable (inout SwitchboardConfiguration, Bool) -> Void) -> Setting {
            Setting(key: key) { configuration, value in
                guard case .bool(let flag) = value else { throw ConfigurationError(description: "'\(key)' must be true or false.") }
                set(&configuration, flag)
            } parse: { text in
                switch text.lowercased() {
                case "true", "1", "yes": return .bool(true)
                case "false", "0", "no": return .bool(false)
                default: throw ConfigurationError(description: "'\(text)' is not true or false.")
                }
            }
        }
    }
}
