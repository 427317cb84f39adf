import Logging
import ServiceLifecycle
import SwitchboardCore
import SwitchboardPluginHost

/// Keeps tenants' plugin instances for the server's lifetime: applies integrations other servers of
/// the cluster changed as soon as the store signals it; on graceful shutdown it stops their deliveries
/// (saving cursors), destroys them, ends the manager's task pool, and closes the plugins' HTTP client.
struct PluginService: Service {
    let manager: IntegrationManager
    let httpClient: OutboundHTTPClient
    let settingsChanged: CommitSignal
    let logger: Logger

    func run() async throws {
        // The instances' deliveries and restarts run in the manager's pool, in this service.
        let tasks = manager.tasks
        async let pool: Void = tasks.run()
        await cancelWhenGracefulShutdown {
            // From 0: a change signalled while the integrations started is applied too.
            var seen: UInt64 = 0
            while !Task.isCancelled {
                await settingsChanged.wait(after: seen)
                seen = settingsChanged.generation
                // A resync that failed (the database is away) is tried again a second later, signal or not.
                while !Task.isCancelled {
                    do {
                        try await manager.resync()
                        break
                    } catch {
                        logger.warning("Cannot apply the integrations other servers changed; retrying", metadata: ["sb.error": "\(error)"])
                        try? await Task.sleep(for: .seconds(1))
                    }
                }
            }
        }
        await manager.shutdown()
        tasks.finish()
        await pool
        try await httpClient.shutdown()
    }
}
