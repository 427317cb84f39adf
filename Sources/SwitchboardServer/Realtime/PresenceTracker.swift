import Logging
import SwitchboardCore

/// Sets an agent offline when its last WebSocket connection closed and none opened within the grace period.
struct PresenceTracker: Sendable {
    let hub: RealtimeHub
    let store: any ChatStore
    let grace: Duration
    let logger: Logger

    func lastConnectionClosed(principal: Principal) {
        Task { [hub, store, grace, logger] in
            try? await Task.sleep(for: grace)
            guard hub.connections(of: principal) == 0 else { return }
            do {
                _ = try await store.execute(
                    .updateAgent(id: principal.subject, AgentChanges(status: .offline), expectedVersion: nil),
                    tenant: principal.tenantID,
                    idempotency: nil
                )
            } catch {
                logger.debug("Presence: the agent could not be set offline", metadata: ["sb.tenant": .string(principal.tenantID), "sb.error": "\(error)"])
            }
        }
    }
}
