import Logging
import ServiceLifecycle
import SwitchboardCore

/// Sets an agent offline when its last WebSocket connection closed and none opened within the grace period.
///
/// A service: each grace period is a child task of `run()`, so none outlives the service; at shutdown
/// the pending ones are cancelled (their agents keep their status) before the store closes.
struct PresenceTracker: Service {
    let hub: RealtimeHub
    let store: any ChatStore
    let grace: Duration
    let logger: Logger
    private let closed: AsyncStream<Principal>
    private let closes: AsyncStream<Principal>.Continuation

    init(hub: RealtimeHub, store: any ChatStore, grace: Duration, logger: Logger) {
        self.hub = hub
        self.store = store
        self.grace = grace
        self.logger = logger
        (closed, closes) = AsyncStream.makeStream()
    }

    /// Starts the grace period of a principal whose last connection closed.
    func lastConnectionClosed(principal: Principal) {
        closes.yield(principal)
    }

    func run() async throws {
        await withDiscardingTaskGroup { group in
            for await principal in closed.cancelOnGracefulShutdown() {
                group.addTask { await setOfflineAfterGrace(principal) }
            }
            group.cancelAll()
        }
    }

    private func setOfflineAfterGrace(_ principal: Principal) async {
        guard (try? await Task.sleep(for: grace)) != nil, hub.connections(of: principal) == 0 else { return }
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
