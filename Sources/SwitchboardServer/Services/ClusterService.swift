import Foundation
import Logging
import ServiceLifecycle
import SwitchboardCore
import Synchronization

/// Registers this server in a shared database (PostgreSQL) and records a heartbeat every `interval`,
/// with the leases it holds, so that `switchboard cluster status` lists the servers sharing it; removes
/// it on graceful shutdown. Nodes silent for a day are forgotten. After each heartbeat it hands `members`
/// the number of live servers (`ClusterNode.isLive`), itself included.
struct ClusterService: Service {
    static let interval = Duration.seconds(ClusterNode.heartbeatInterval)
    static let forgetAfter = Duration.seconds(86_400)

    let cluster: any Cluster
    let node: String
    let address: ListeningAddress
    let logger: Logger
    let members: @Sendable (Int) -> Void

    func run() async throws {
        guard cluster.isShared else {
            // One server per database file: nothing to record, and every quota is this server's.
            members(1)
            try? await gracefulShutdown()
            return
        }
        let started = Date()
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let now = Date()
                    try await cluster.heartbeat(
                        ClusterNode(id: node, address: address.value, startedAt: started, heartbeatAt: now, leases: cluster.heldLeases),
                        forgetAfter: Self.forgetAfter
                    )
                    let live = try await cluster.nodes().count { $0.id == node || $0.isLive(at: now) }
                    members(live)
                } catch {
                    logger.warning("Cannot record this server's heartbeat", metadata: ["sb.error": "\(error)"])
                }
                try? await Task.sleep(for: Self.interval)
            }
        }
        try? await cluster.leave(node: node)
    }

    /// A new node id: the host's name and a random suffix, unique per process.
    static func makeNodeID() -> String {
        let host = ProcessInfo.processInfo.hostName.prefix(40).filter { $0.isASCII && ($0.isLetter || $0.isNumber || "-.".contains($0)) }
        return "\(host.isEmpty ? "node" : String(host))-\(UUID().uuidString.prefix(8).lowercased())"
    }
}

/// The leases of the server's own background work (integrations' event delivery adds one each,
/// `plugin/<tenant>/<plugin>`).
enum ServerLease {
    static let webhooks = "webhooks"
    static let statistics = "statistics"
    static let statisticsSink = "statistics-sink"
    static let ticketSync = "ticket-sync"
    static let crm = "crm"
    static let maintenance = "maintenance"
    static let all = [crm, maintenance, statistics, statisticsSink, ticketSync, webhooks]
}

/// Where this server listens: the configured host and port until the listener is bound (port 0 is
/// then the port the system chose).
final class ListeningAddress: Sendable {
    private let address: Mutex<String>

    init(_ configured: String) { address = Mutex(configured) }

    var value: String { address.withLock { $0 } }

    func set(_ bound: String) { address.withLock { $0 = bound } }
}

/// Runs a service on one server of the cluster at a time: while this server holds the lease `name`
/// (`Cluster.whileHolding`). When the holder dies, another server takes the lease within a few seconds
/// and starts the service from what is persisted (a consumer's cursor, queued deliveries).
struct LeasedService: Service {
    let name: String
    let service: any Service
    let cluster: any Cluster
    let logger: Logger

    func run() async throws {
        let logger = logger
        let name = name
        try await cancelWhenGracefulShutdown {
            try await cluster.whileHolding(lease: name, changed: { held in
                if held {
                    logger.info("Lease taken: this server does this work for the cluster", metadata: ["sb.lease": "\(name)"])
                } else {
                    logger.warning("Lease lost: this work stopped here until the lease is taken again", metadata: ["sb.lease": "\(name)"])
                }
            }) {
                try await service.run()
            }
        }
    }
}
