import AsyncHTTPClient
import Foundation
import Logging
import Metrics
import SwitchboardCore
import SwitchboardPluginHost

/// Loads the plugin folder, starts the stored integrations, then applies the declared ones.
/// - Parameter connectionsPerHost: how many connections the outgoing HTTP client keeps to one host.
/// - Returns: the manager and the outgoing HTTP client of plugins and webhooks (shut down by `PluginService`).
func startIntegrations(
    configuration: SwitchboardConfiguration.Plugins,
    store: any SwitchboardStorage,
    secrets: SecretBox,
    metrics: any MetricsFactory,
    connectionsPerHost: Int,
    logger: Logger
) async throws -> (IntegrationManager, OutboundHTTPClient) {    let declared = try configuration.integrationsFile.map(DeclaredIntegration.load) ?? []
    var clientConfiguration = HTTPClient.Configuration()
    // A redirect could lead past the SSRF guard, which checks only the first request's addresses.
    clientConfiguration.redirectConfiguration = .disallow
    clientConfiguration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = connectionsPerHost
    let httpClient = OutboundHTTPClient(configuration: clientConfiguration)
    let manager = IntegrationManager(
        catalog: PluginCatalog.load(directory: configuration.directory, logger: logger),
        store: store,
        log: store,
        secrets: secrets,
        http: PluginHTTPClient(client: httpClient, policy: OutboundAddressPolicy(allowsPrivateNetworks: configuration.allowsPrivateNetworks)),
        metrics: metrics,
        configuration: .init(
            retryBase: .milliseconds(configuration.retryBaseMilliseconds),
            breakerThreshold: configuration.breakerThreshold,
            breakerCooldown: .seconds(configuration.breakerCooldownSeconds),
            maxEventAttempts: configuration.maxEventAttempts,
            isolation: configuration.isolation,
            subprocessPlugins: configuration.subprocessPlugins,
            pluginHostExecutable: configuration.hostExecutable
        ),
        cluster: store,
        logger: logger
    )
    do {
        try await manager.start()
        for integration in declared {
            do {
                try await manager.configure(tenant: integration.tenant, plugin: integration.plugin, isEnabled: integration.enabled, config: integration.config)
            } catch let error as SwitchboardError {
                throw ConfigurationError(
                    description: "\(configuration.integrationsFile ?? ""): the integration of tenant \(integration.tenant) with '\(integration.plugin)': \(error.detail)"
                )
            }
        }
    } catch {
        await manager.shutdown()
        try? await httpClient.shutdown()
        if let error = error as? SecretBoxError { throw ConfigurationError(description: "Cannot start integrations: \(error.message)") }
        throw error
    }
    return (manager, httpClient)
}

/// One entry of `plugins.integrations_file`.
struct DeclaredIntegration: Decodable {
    var tenant: String
    var plugin: String
    var enabled: Bool
    var config: JSONValue?

    static func load(path: String) throws -> [DeclaredIntegration] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(description: "Cannot read plugins.integrations_file '\(path)'.")
        }
        do {
            return try SwitchboardJSON.decode([DeclaredIntegration].self, from: data)
        } catch {
            throw ConfigurationError(
                description: "\(path): expected a JSON array of {\"tenant\", \"plugin\", \"enabled\", \"config\"} objects (\(error))."
            )
        }
    }
}
