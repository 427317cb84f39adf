import Logging
import ServiceLifecycle
import SwitchboardPluginHost

/// Keeps tenants' plugin instances for the server's lifetime: on graceful shutdown it stops their
/// deliveries (saving cursors), destroys them, and closes the plugins' HTTP client.
struct PluginService: Service {
    let manager: IntegrationManager
    let httpClient: OutboundHTTPClient

    func run() async throws {
        try? await gracefulShutdown()
        await manager.shutdown()
        try await httpClient.shutdown()
    }
}
