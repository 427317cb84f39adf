import Foundation
import Logging
import ServiceLifecycle
import SwitchboardCore

/// Sets an agent offline when its last WebSocket connection closed and none opened within the grace
/// period, on this server or on any other live server of the cluster: each server records in the
/// database which agents it has connections of.
///
/// A service: each grace period is a child task of `run()`, so none outlives the service; at shutdown
/// the pending ones are cancelled (their agents keep their status) before the store closes.
struct PresenceTracker: Service {
    let hub: RealtimeHub
    let store: any Cluster
    let node: String
    let grace: Duration
    let logger: Logger
    private let closed: AsyncStream<Principal>
    private let closes: AsyncStream<Principal>.Continuation

    init(hub: RealtimeHub, store: any Cluster, node: String, grace: Duration, logger: Logger) {
        self.hub = hub
        self.store = store
        self.node = node
        self.grace = grace
        self.logger = logger
        (closed, closes) = AsyncStream.makeStream()
    }

    /// Records that this server has a connection of the agent `principal`.
    func connectionOpened(principal: Principal) async {
        do {
            try await store.markPresent(node: node, tenant: principal.tenantID, subject: principal.subject)
        } catch {
            logger.debug("Presence: the connection could not be recorded", metadata: ["sb.tenant": .string(principal.tenantID), "sb.error": "\(error)"])
        }
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
            let heardSince = Date().addingTimeInterval(-ClusterNode.liveWithin)
            _ = try await store.markAbsent(node: node, tenant: principal.tenantID, subject: principal.subject, heardSince: heardSince)
        } catch {
            logger.debug("Presence: the agent could not be set offline", metadata: ["sb.tenant": .string(principal.tenantID), "sb.error": "\(error)"])
        }
        // A connection that opened meanwhile recorded itself before the absence did: record it again.
        if hub.connections(of: principal) > 0 { await connectionOpened(principal: principal) }
    }
}
