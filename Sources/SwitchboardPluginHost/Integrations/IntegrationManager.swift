import Foundation
import Logging
import Metrics
import Synchronization
import SwitchboardCore

/// Runs tenants' integrations: validates and stores their configs, keeps one live instance per enabled
/// (tenant, plugin), feeds each instance its tenant's events from a persisted cursor, and routes calls.
///
/// Enable, disable and reconfigure take effect at once: calls in flight finish, the old instance is
/// destroyed, the new one created.
public actor IntegrationManager {
    /// Retry and circuit-breaker settings of event delivery and calls.
    public struct Configuration: Sendable {
        /// The first pause before an event is delivered again; it doubles per failure up to `retryMax`.
        public var retryBase: Duration
        public var retryMax: Duration
        /// Consecutive failures (errors or timeouts) that open an instance's breaker.
        public var breakerThreshold: Int
        /// How long an open breaker sheds calls before it admits a probe.
        public var breakerCooldown: Duration
        /// Failed attempts after which an event is parked and delivery goes on with the next.
        public var maxEventAttempts: Int
        /// Where plugins run unless listed in `subprocessPlugins`.
        public var isolation: Isolation
        /// Plugin ids that always run in a child process.
        public var subprocessPlugins: Set<String>
        /// The `switchboard` executable started as `switchboard plugin-host PATH`; nil: this process's executable.
        public var pluginHostExecutable: String?

        /// Creates settings; every parameter has a production default.
        public init(
            retryBase: Duration = .milliseconds(500),
            retryMax: Duration = .seconds(60),
            breakerThreshold: Int = 5,
            breakerCooldown: Duration = .seconds(30),
            maxEventAttempts: Int = 10,
            isolation: Isolation = .inProcess,
            subprocessPlugins: Set<String> = [],
            pluginHostExecutable: String? = nil
        ) {
            self.retryBase = retryBase
            self.retryMax = retryMax
            self.breakerThreshold = breakerThreshold
            self.breakerCooldown = breakerCooldown
            self.maxEventAttempts = maxEventAttempts
            self.isolation = isolation
            self.subprocessPlugins = subprocessPlugins
            self.pluginHostExecutable = pluginHostExecutable
        }

        /// Where `plugin` runs.
        public func isolation(of plugin: String) -> Isolation {
            subprocessPlugins.contains(plugin) ? .subprocess : isolation
        }
    }

    /// Where a plugin's code runs.
    public struct Isolation: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        /// In the server process: fastest; a crash takes the server down.
        public static let inProcess = Isolation(name: "in_process")
        /// In a supervised child per instance: crashes and hangs cost only the child, which restarts.
        public static let subprocess = Isolation(name: "subprocess")
        public var description: String { name }

        /// The isolation named `in_process` or `subprocess`.
        public init?(named name: String) {
            guard let known = [Isolation.inProcess, .subprocess].first(where: { $0.name == name }) else { return nil }
            self = known
        }

        private init(name: String) { self.name = name }
    }

    /// The plugin files found at start.
    public nonisolated let catalog: PluginCatalog
    private let plugins: [String: PluginLibrary]
    private let store: any IntegrationStore
    private let log: any EventLog
    private let secrets: SecretBox
    private let environment: PluginEnvironment
    /// Makes `sb_plugin_calls_total{plugin, op, status}`; nil counts nothing.
    private let metrics: (any MetricsFactory)?
    private let configuration: Configuration
    private let logger: Logger
    private var running: [Key: Running] = [:]
    /// The stored form (enabled, sealed config) each integration had when this server last applied it,
    /// so that `resync()` applies only what another server changed.
    private var applied: [Key: (isEnabled: Bool, config: JSONValue)] = [:]
    /// Where event delivery takes its leases: one server of a cluster feeds each instance its events
    /// (every server runs instances, for calls). Nil: this server always delivers.
    private let cluster: (any Cluster)?
    /// Why an enabled integration has no instance (its plugin is missing or refused its config).
    private var failures: [Key: String] = [:]
    /// The integrations whose instance is being changed (started, resynced, configured, disabled,
    /// stopped), each with the changes waiting for it: one change per integration at a time, so that a
    /// resync cannot act on a stored state older than what a concurrent configure just applied; other
    /// integrations' changes go on meanwhile.
    private var changing: [Key: [CheckedContinuation<Void, Never>]] = [:]

    /// Where instances' event deliveries and plugin processes' restarts run: the plugin service runs it
    /// (`run()`) until after `shutdown()`, so none outlives the server.
    public nonisolated let tasks = TaskPool()

    private struct Key: Hashable {
        let tenant: String
        let plugin: String
    }

    private struct Running {
        let instance: any PluginRunner
        /// The breaker of calls; event delivery has its own (`eventBreaker`).
        let breaker: BreakerBox
        let eventBreaker: BreakerBox
        let delivery: PooledTask
    }

    /// Creates the manager over a loaded catalog.
    public init(
        catalog: PluginCatalog,
        store: any IntegrationStore,
        log: any EventLog,
        secrets: SecretBox,
        http: PluginHTTPClient?,
        metrics: (any MetricsFactory)? = nil,
        configuration: Configuration = Configuration(),
        cluster: (any Cluster)? = nil,
        logger: Logger
    ) {
        self.cluster = cluster
        self.catalog = catalog
        self.plugins = catalog.plugins
        self.store = store
        self.log = log
        self.secrets = secrets
        self.environment = .local(store: store, http: http, metrics: metrics, logger: logger)
        self.metrics = metrics
        self.configuration = configuration
        self.logger = logger
    }

    // MARK: - Lifecycle

    /// Starts every stored enabled integration.
    /// - Throws: ``SecretBoxError`` when sealed secrets exist and no key (or another key) is configured.
    public func start() async throws {
        let records = try await store.integrations(tenant: nil)
        for record in records where SecretBox.containsSealed(record.config) {
            guard let library = plugins[record.pluginID] else { continue }
            _ = try secrets.open(record.config, paths: library.manifest.configSchema.secretPaths, scope: scope(record.tenantID, record.pluginID))
        }
        for record in records where record.isEnabled {
            await exclusively(Key(tenant: record.tenantID, plugin: record.pluginID)) { await activateLogging(record) }
        }
    }

    /// Applies what other servers of the cluster changed since this one last applied each integration:
    /// starts, reconfigures or stops instances.
    public func resync() async throws {
        // The list finds what looks changed; each such integration is read again once its own changes
        // are done, so that a configure that ran meanwhile is not undone by the older list.
        var stored: Set<Key> = []
        var changed: [Key] = []
        for record in try await store.integrations(tenant: nil) {
            let key = Key(tenant: record.tenantID, plugin: record.pluginID)
            stored.insert(key)
            if let last = applied[key], last.isEnabled == record.isEnabled, last.config == record.config { continue }
            changed.append(key)
        }
        for key in changed + running.keys.filter({ !stored.contains($0) }) {
            try await exclusively(key) { try await resync(key) }
        }
    }

    /// Applies the stored state of one integration, if this server has not applied it yet.
    private func resync(_ key: Key) async throws {
        guard let record = try await store.integration(tenant: key.tenant, plugin: key.plugin) else {
            await deactivate(key)
            return
        }
        if let last = applied[key], last.isEnabled == record.isEnabled, last.config == record.config { return }
        if record.isEnabled {
            await activateLogging(record)
        } else {
            await deactivate(key)
            failures[key] = nil
            applied[key] = (record.isEnabled, record.config)
        }
    }

    /// Activates a stored enabled integration; a failure is kept for its view and logged, and tried
    /// again at the next `resync()`.
    private func activateLogging(_ record: IntegrationRecord) async {
        let key = Key(tenant: record.tenantID, plugin: record.pluginID)
        do {
            try await activate(record)
            applied[key] = (record.isEnabled, record.config)
            failures[key] = nil
        } catch {
            failures[key] = "\(error)"
            logger.warning("Integration not started", metadata: ["sb.tenant": .string(record.tenantID), "sb.plugin": .string(record.pluginID), "sb.error": "\(error)"])
        }
    }

    /// Stops deliveries and destroys every instance.
    public func shutdown() async {
        for key in Array(running.keys) {
            await exclusively(key) { await deactivate(key) }
        }
    }

    /// Runs `change` of `key`'s integration once its earlier changes are done; the turn then passes to
    /// the next waiting change, in the order they came.
    private func exclusively<T>(_ key: Key, _ change: () async throws -> T) async rethrows -> T {
        if changing[key] == nil {
            changing[key] = []
        } else {
            await withCheckedContinuation { changing[key, default: []].append($0) }
        }
        defer {
            if var waiting = changing[key], !waiting.isEmpty {
                let next = waiting.removeFirst()
                changing[key] = waiting
                next.resume()
            } else {
                changing[key] = nil
            }
        }
        return try await change()
    }

    // MARK: - Reading

    /// Every loaded plugin as `tenant` sees it.
    public func integrations(tenant: String) async throws -> [IntegrationView] {
        let records = await Dictionary(try store.integrations(tenant: tenant).map { ($0.pluginID, $0) }, uniquingKeysWith: { first, _ in first })
        var views: [IntegrationView] = []
        for id in plugins.keys.sorted() {
            views.append(await view(tenant: tenant, library: plugins[id]!, record: records[id]))
        }
        return views
    }

    /// One plugin as `tenant` sees it.
    /// - Throws: `plugin_not_found` for an id no loaded plugin has.
    public func integration(tenant: String, plugin: String) async throws -> IntegrationView {
        let library = try library(plugin)
        return await view(tenant: tenant, library: library, record: try store.integration(tenant: tenant, plugin: plugin))
    }

    /// The plugins whose instances run for `tenant` and declare `capability`, by id.
    public func runningPlugins(tenant: String, capability: PluginManifest.Capability) -> [String] {
        plugins.keys.sorted().filter { id in
            running[Key(tenant: tenant, plugin: id)] != nil && plugins[id]!.manifest.capabilities.contains(capability)
        }
    }

    /// Every running instance that declares `capability`, as tenant and plugin id.
    public func runningIntegrations(capability: PluginManifest.Capability) -> [(tenant: String, plugin: String)] {
        running.keys
            .filter { plugins[$0.plugin]?.manifest.capabilities.contains(capability) == true }
            .sorted { ($0.tenant, $0.plugin) < ($1.tenant, $1.plugin) }
            .map { ($0.tenant, $0.plugin) }
    }

    // MARK: - Changing

    /// Validates, stores and applies `tenant`'s integration with `plugin`.
    /// - Parameter config: the new config; secrets equal to ``SecretBox/mask`` keep their stored value.
    ///   Nil keeps the stored config (or `{}` for a new integration).
    /// - Throws: `invalid_config` naming the field, `plugin_refused_config` with the plugin's message,
    ///   `secret_key_missing` when secrets need a key that is not configured.
    @discardableResult
    public func configure(tenant: String, plugin: String, isEnabled: Bool, config: JSONValue?) async throws -> IntegrationView {
        try await exclusively(Key(tenant: tenant, plugin: plugin)) {
            try await configureStored(tenant: tenant, plugin: plugin, isEnabled: isEnabled, config: config)
        }
    }

    private func configureStored(tenant: String, plugin: String, isEnabled: Bool, config: JSONValue?) async throws -> IntegrationView {
        let library = try library(plugin)
        let key = Key(tenant: tenant, plugin: plugin)
        let schema = library.manifest.configSchema
        let existing = try await store.integration(tenant: tenant, plugin: plugin)
        let previous = try existing.map { try openConfig($0, library: library) }
        let plain = try config.map { try SecretBox.keepingMaskedSecrets($0, previous: previous, paths: schema.secretPaths) } ?? previous ?? .object([:])
        guard case .object = plain else {
            throw SwitchboardError(kind: .invalidInput, code: "invalid_config", detail: "The config must be a JSON object.", field: "config")
        }
        if let violation = schema.violation(of: plain) {
            throw SwitchboardError(kind: .invalidInput, code: "invalid_config", detail: "The field '\(violation.field)' \(violation.message).", field: violation.field)
        }
        let sealed: JSONValue
        do {
            sealed = try secrets.seal(plain, paths: schema.secretPaths, scope: scope(tenant, plugin))
        } catch let error as SecretBoxError {
            throw SwitchboardError(kind: .unavailable, code: "secret_key_missing", detail: error.message)
        }
        let cursor: Int64
        if let existing { cursor = existing.cursor } else { cursor = try await log.lastSeq(tenant: tenant) }
        if isEnabled {
            try await apply(key: key, library: library, config: plain, cursor: cursor)
        } else {
            await deactivate(key)
        }
        let record = try await store.saveIntegration(tenant: tenant, plugin: plugin, isEnabled: isEnabled, config: sealed, initialCursor: cursor)
        applied[key] = (record.isEnabled, record.config)
        failures[key] = nil
        return await view(tenant: tenant, library: library, record: record)
    }

    /// Disables `tenant`'s integration with `plugin`, keeping its config and cursor.
    public func disable(tenant: String, plugin: String) async throws {
        try await exclusively(Key(tenant: tenant, plugin: plugin)) { try await disableStored(tenant: tenant, plugin: plugin) }
    }

    private func disableStored(tenant: String, plugin: String) async throws {
        guard let existing = try await store.integration(tenant: tenant, plugin: plugin) else { throw SwitchboardError.notFound("integration") }
        let key = Key(tenant: tenant, plugin: plugin)
        await deactivate(key)
        failures[key] = nil
        let record = try await store.saveIntegration(tenant: tenant, plugin: plugin, isEnabled: false, config: existing.config, initialCursor: existing.cursor)
        applied[key] = (record.isEnabled, record.config)
    }

    /// Performs `op` on `tenant`'s instance of `plugin`.
    /// - Throws: `integration_not_enabled`, or `integration_unavailable` while its breaker is open.
    public func call(tenant: String, plugin: String, op: String, args: JSONValue) async throws -> CallOutcome {
        let manifest = try library(plugin).manifest
        let running = try runningInstance(tenant: tenant, plugin: plugin)
        guard running.breaker.admits() else {
            throw SwitchboardError(kind: .unavailable, code: "integration_unavailable", detail: "The integration '\(plugin)' is failing; its circuit breaker is open.")
        }
        let outcome = await running.instance.call(op: op, args: try SwitchboardJSON.encode(args))
        running.breaker.record(outcome.status)
        if let metrics {
            Counter(label: "sb_plugin_calls_total", dimensions: [("plugin", plugin), ("op", manifest.metricLabel(op: op)), ("status", outcome.status.name)], factory: metrics).increment()
        }
        return outcome
    }

    // MARK: - Figures

    /// How one plugin's instances stand, across tenants, for `/metrics`.
    public struct PluginFigures: Sendable, Equatable {
        /// Running instances without parked events.
        public var running = 0
        /// Running instances that parked events.
        public var degraded = 0
        /// Enabled instances that could not start.
        public var failed = 0
        /// Instances whose breaker of calls is not closed.
        public var callBreakersOpen = 0
        /// Instances whose breaker of event delivery is not closed.
        public var eventBreakersOpen = 0
    }

    /// The figures of every loaded plugin, zero for one without instances. Reads no plugin, and the
    /// store once: which integrations have parked events.
    public func figures() async -> [String: PluginFigures] {
        var figures = Dictionary(uniqueKeysWithValues: plugins.keys.map { ($0, PluginFigures()) })
        let parked = Set(((try? await store.parkedEventCounts()) ?? []).map { Key(tenant: $0.tenant, plugin: $0.plugin) })
        for (key, current) in running {
            if parked.contains(key) { figures[key.plugin, default: PluginFigures()].degraded += 1 } else { figures[key.plugin, default: PluginFigures()].running += 1 }
            if current.breaker.snapshot.state != .closed { figures[key.plugin, default: PluginFigures()].callBreakersOpen += 1 }
            if current.eventBreaker.snapshot.state != .closed { figures[key.plugin, default: PluginFigures()].eventBreakersOpen += 1 }
        }
        for key in failures.keys where running[key] == nil {
            figures[key.plugin, default: PluginFigures()].failed += 1
        }
        return figures
    }

    // MARK: - Parked events

    /// The events `tenant`'s instance of `plugin` set aside, oldest first.
    public func parkedEvents(tenant: String, plugin: String) async throws -> [ParkedEvent] {
        _ = try library(plugin)
        return try await store.parkedEvents(tenant: tenant, plugin: plugin)
    }

    /// Delivers a parked event once more, now: acknowledged, it is no longer parked; refused again, it
    /// stays parked with the new error.
    /// - Throws: `integration_not_enabled`, `parked_event_not_found`, `event_expired` when retention
    ///   removed the event from the log meanwhile.
    public func retryParked(tenant: String, plugin: String, seq: Int64) async throws -> CallOutcome {
        _ = try library(plugin)
        let running = try runningInstance(tenant: tenant, plugin: plugin)
        guard let parked = try await store.parkedEvents(tenant: tenant, plugin: plugin).first(where: { $0.seq == seq }) else {
            throw SwitchboardError.notFound("parked_event")
        }
        guard let event = try await log.events(tenant: tenant, after: seq - 1, limit: 1).first, event.seq == seq else {
            throw SwitchboardError(kind: .conflict, code: "event_expired", detail: "Event \(seq) is no longer kept in the log; drop it.")
        }
        let outcome = await running.instance.deliver(events: [try SwitchboardJSON.encode(event)]).first ?? CallOutcome(status: .internal, body: [])
        if outcome.status.acknowledgesEvent {
            _ = try await store.removeParkedEvent(tenant: tenant, plugin: plugin, seq: seq)
        } else {
            var again = parked
            again.error = String(outcome.failureDescription.prefix(ParkedEvent.maxErrorLength))
            again.attempts = 1
            again.parkedAt = Date()
            try await store.parkEvent(again)
        }
        return outcome
    }

    /// Forgets a parked event without delivering it.
    /// - Throws: `parked_event_not_found`.
    public func dropParked(tenant: String, plugin: String, seq: Int64) async throws {
        _ = try library(plugin)
        guard try await store.removeParkedEvent(tenant: tenant, plugin: plugin, seq: seq) else { throw SwitchboardError.notFound("parked_event") }
    }

    // MARK: - Instances

    /// Creates the instance of a stored, enabled integration and starts its delivery.
    private func activate(_ record: IntegrationRecord) async throws {
        let library = try library(record.pluginID)
        let config = try openConfig(record, library: library)
        let key = Key(tenant: record.tenantID, plugin: record.pluginID)
        try await apply(key: key, library: library, config: config, cursor: record.cursor)
    }

    /// Makes the running instance of `key` use `config`: reconfigured in place when the plugin can,
    /// else a new instance replaces the old one. A refused config leaves the old instance running.
    private func apply(key: Key, library: PluginLibrary, config: JSONValue, cursor: Int64) async throws {
        let bytes = try SwitchboardJSON.encode(config)
        do {
            if let current = running[key], try await current.instance.reconfigure(config: bytes) { return }
            let instance = try await makeInstance(library: library, tenant: key.tenant, config: bytes)
            // Whatever runs now goes: the old instance, or one a concurrent request started meanwhile. Its
            // delivery saved its cursor on the way out, so the new instance continues from there.
            while running[key] != nil { await deactivate(key) }
            await start(key: key, instance: instance, cursor: try store.integration(tenant: key.tenant, plugin: key.plugin)?.cursor ?? cursor)
        } catch let error as PluginCallError {
            throw SwitchboardError(kind: .invalidInput, code: "plugin_refused_config", detail: "The plugin refused the configuration: \(error).", field: "config")
        }
    }

    private func makeInstance(library: PluginLibrary, tenant: String, config: [UInt8]) async throws -> any PluginRunner {
        guard configuration.isolation(of: library.manifest.id) == .subprocess else {
            return try await PluginInstance.create(library: library, tenant: tenant, config: config, environment: environment)
        }
        let executable = configuration.pluginHostExecutable ?? Bundle.main.executablePath ?? CommandLine.arguments[0]
        return try await SubprocessInstance.create(
            library: library,
            tenant: tenant,
            config: config,
            environment: environment,
            launch: .init(executable: executable, restartBase: configuration.retryBase, metrics: metrics, tasks: tasks)
        )
    }

    private func start(key: Key, instance: any PluginRunner, cursor: Int64) {
        // Calls and event deliveries fail for different reasons: a call that succeeds must not reset the
        // count of failing deliveries, so each has a breaker.
        let breaker = BreakerBox(CircuitBreaker(threshold: configuration.breakerThreshold, cooldown: configuration.breakerCooldown))
        let eventBreaker = BreakerBox(CircuitBreaker(threshold: configuration.breakerThreshold, cooldown: configuration.breakerCooldown))
        running[key] = Running(
            instance: instance,
            breaker: breaker,
            eventBreaker: eventBreaker,
            delivery: deliveryTask(key: key, instance: instance, breaker: eventBreaker, cursor: cursor)
        )
    }

    private func deactivate(_ key: Key) async {
        guard let current = running.removeValue(forKey: key) else { return }
        current.delivery.cancel()
        await current.delivery.wait()
        if await !current.instance.destroy() {
            logger.warning("Plugin instance destroy deferred: a hook still runs past its timeout", metadata: ["sb.tenant": .string(key.tenant), "sb.plugin": .string(key.plugin)])
        }
    }

    // MARK: - Event delivery

    private func deliveryTask(key: Key, instance: any PluginRunner, breaker: BreakerBox, cursor: Int64) -> PooledTask {
        let delivery = EventDelivery(
            tenant: key.tenant,
            plugin: key.plugin,
            manifest: instance.manifest,
            instance: instance,
            breaker: breaker,
            log: log,
            store: store,
            configuration: configuration,
            metrics: metrics,
            logger: instance.logger
        )
        guard let cluster else { return tasks.startCancellable { await delivery.run(from: cursor) } }
        let store = store
        let logger = instance.logger
        return tasks.startCancellable {
            // On another server's death its deliveries continue here, from the cursor it saved.
            try? await cluster.whileHolding(
                lease: "plugin/\(key.tenant)/\(key.plugin)",
                changed: { held in logger.info(held ? "Event delivery lease taken" : "Event delivery lease lost") }
            ) {
                let saved = try? await store.integration(tenant: key.tenant, plugin: key.plugin)?.cursor
                await delivery.run(from: max(saved ?? cursor, cursor))
            }
        }
    }

    // MARK: - Helpers

    /// `tenant`'s running instance of `plugin`.
    /// - Throws: `integration_not_enabled`.
    private func runningInstance(tenant: String, plugin: String) throws -> Running {
        guard let running = running[Key(tenant: tenant, plugin: plugin)] else {
            throw SwitchboardError(kind: .conflict, code: "integration_not_enabled", detail: "The integration '\(plugin)' is not enabled for this tenant.")
        }
        return running
    }

    private func library(_ plugin: String) throws -> PluginLibrary {
        guard let library = plugins[plugin] else {
            throw SwitchboardError(kind: .notFound, code: "plugin_not_found", detail: "No loaded plugin has the id '\(plugin)'.")
        }
        return library
    }

    private func openConfig(_ record: IntegrationRecord, library: PluginLibrary) throws -> JSONValue {
        do {
            return try secrets.open(record.config, paths: library.manifest.configSchema.secretPaths, scope: scope(record.tenantID, record.pluginID))
        } catch let error as SecretBoxError {
            throw SwitchboardError(kind: .unavailable, code: "secret_key_missing", detail: error.message)
        }
    }

    private func scope(_ tenant: String, _ plugin: String) -> String { "\(tenant)/\(plugin)" }

    private func view(tenant: String, library: PluginLibrary, record: IntegrationRecord?) async -> IntegrationView {
        let key = Key(tenant: tenant, plugin: library.manifest.id)
        let current = running[key]
        let health = await current?.instance.health()
        let breaker = current?.breaker.snapshot
        let parked = (try? await store.parkedEvents(tenant: tenant, plugin: library.manifest.id)) ?? []
        let state: IntegrationView.State =
            if current != nil { .running } else if let failure = failures[key], record?.isEnabled == true { .failed(failure) } else { .disabled }
        return IntegrationView(
            manifest: library.manifest,
            abiVersion: "\(library.abiMajor).\(library.abiMinor)",
            isolation: configuration.isolation(of: library.manifest.id),
            isEnabled: record?.isEnabled ?? false,
            config: record.map { SecretBox.masked($0.config, paths: library.manifest.configSchema.secretPaths) },
            cursor: record?.cursor,
            state: state,
            health: health,
            breaker: breaker,
            eventBreaker: current?.eventBreaker.snapshot,
            parked: parked
        )
    }
}

/// A breaker shared by an instance's delivery task and its callers.
final class BreakerBox: Sendable {
    // Guards the breaker's state machine.
    private let breaker: Mutex<CircuitBreaker>

    init(_ breaker: CircuitBreaker) { self.breaker = Mutex(breaker) }

    func admits(at now: ContinuousClock.Instant = .now) -> Bool { breaker.withLock { $0.admits(at: now) } }

    /// Records an outcome: retryable statuses count as failures.
    func record(_ status: PluginStatus, at now: ContinuousClock.Instant = .now) {
        breaker.withLock { status.isRetryable ? $0.recordFailure(at: now) : $0.recordSuccess() }
    }

    var snapshot: CircuitBreaker { breaker.withLock { $0 } }
}
