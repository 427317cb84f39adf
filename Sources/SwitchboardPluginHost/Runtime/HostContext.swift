import CSwitchboardPlugin
import Dispatch
import Logging
import Metrics
import SwitchboardCore
import Synchronization

/// What every plugin context shares: the services behind the C table, the pending calls, the logger.
package final class PluginEnvironment: Sendable {
    let services: any PluginServices
    let calls: CallRegistry
    let logger: Logger

    init(services: any PluginServices, calls: CallRegistry, logger: Logger) {
        self.services = services
        self.calls = calls
        self.logger = logger
    }

    /// The environment of the server process.
    package static func local(store: (any IntegrationStore)?, http: PluginHTTPClient?, metrics: (any MetricsFactory)?, logger: Logger) -> PluginEnvironment {
        let calls = CallRegistry()
        return PluginEnvironment(services: LocalPluginServices(store: store, http: http, metrics: metrics, calls: calls), calls: calls, logger: logger)
    }
}

/// The host side of an `sb_host *`: which plugin (and tenant) a host-service call comes from.
///
/// The C side holds an unretained pointer; the owner (``PluginInstance`` or ``PluginLibrary`` loading)
/// keeps the context alive for as long as the header promises it is valid.
final class HostContext: Sendable {
    let pluginID: String
    let tenantID: String?
    let services: Set<PluginManifest.Service>
    let httpTimeout: Duration
    let environment: PluginEnvironment
    let logger: Logger
    /// HTTP requests of this context in flight.
    private let httpInFlight = Mutex(0)

    /// HTTP requests one context may have in flight; more are answered SB_UNAVAILABLE, so that a plugin
    /// cannot queue requests (and name resolutions) without bound.
    static let maxHTTPInFlight = 32

    init(manifest: PluginManifest, tenantID: String?, environment: PluginEnvironment) {
        self.pluginID = manifest.id
        self.tenantID = tenantID
        self.services = manifest.services
        self.httpTimeout = manifest.httpTimeout
        self.environment = environment
        var logger = environment.logger
        logger[metadataKey: "sb.plugin"] = .string(manifest.id)
        if let tenantID { logger[metadataKey: "sb.tenant"] = .string(tenantID) }
        self.logger = logger
    }

    /// The pointer handed to the plugin.
    var pointer: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(self).toOpaque()) }

    /// The context behind a pointer the plugin passed back.
    static func from(_ pointer: OpaquePointer?) -> HostContext? {
        pointer.map { Unmanaged<HostContext>.fromOpaque(UnsafeRawPointer($0)).takeUnretainedValue() }
    }

    /// Counts an HTTP request in, unless ``maxHTTPInFlight`` are in flight.
    func admitHTTP() -> Bool {
        httpInFlight.withLock { count in
            guard count < Self.maxHTTPInFlight else { return false }
            count += 1
            return true
        }
    }

    /// Counts an HTTP request out, once it has its outcome.
    func finishHTTP() {
        httpInFlight.withLock { $0 -= 1 }
    }

    /// The tenant of an instance context, when `service` was declared: nil means SB_DENIED.
    func tenant(for service: PluginManifest.Service) -> String? {
        services.contains(service) ? tenantID : nil
    }
}

/// Runs async host work for a plugin thread that waits for it.
///
/// - Important: Call only from threads outside Swift's cooperative pool (hook threads of a
///   ``HookRunner``; plugins' own threads): the caller blocks until the work finishes.
func waitFor<Result: Sendable>(_ body: @escaping @Sendable () async throws -> Result) -> Swift.Result<Result, any Error> {
    let semaphore = DispatchSemaphore(value: 0)
    let box = ResultBox<Result>()
    Task {
        box.set(await Swift.Result(catching: body))
        semaphore.signal()
    }
    semaphore.wait()
    return box.get()
}

private final class ResultBox<Value: Sendable>: @unchecked Sendable {
    // @unchecked: written once by the task before the semaphore signals, read once after the wait.
    private var result: Swift.Result<Value, any Error>?
    func set(_ result: Swift.Result<Value, any Error>) { self.result = result }
    func get() -> Swift.Result<Value, any Error> { result! }
}

extension Swift.Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
