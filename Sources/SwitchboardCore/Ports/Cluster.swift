import Foundation

/// A server of a cluster as it registers itself in the database.
public struct ClusterNode: Sendable, Equatable {
    /// Made at the server's start: unique per process.
    public let id: String
    /// Where it listens (`host:port`): the configured host and the port it bound.
    public let address: String
    public let startedAt: Date
    public var heartbeatAt: Date
    /// The leases it held at its last heartbeat, sorted.
    public var leases: [String]

    /// Seconds between a node's heartbeats.
    public static let heartbeatInterval = 2.0
    /// A node heard from within this many seconds counts as live (three heartbeats).
    public static let liveWithin = 3 * heartbeatInterval

    /// Whether the node counts as live at `now`: its last heartbeat is within `liveWithin` of it, either
    /// way (another node's clock may run ahead).
    public func isLive(at now: Date) -> Bool {
        abs(now.timeIntervalSince(heartbeatAt)) <= Self.liveWithin
    }

    public init(id: String, address: String, startedAt: Date, heartbeatAt: Date, leases: [String]) {
        self.id = id
        self.address = address
        self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt
        self.leases = leases
    }
}

/// A lease this server holds: the right to do one kind of background work for the whole cluster.
public protocol Lease: Sendable {
    /// Returns once the lease was lost (the database session that holds it ended), or when the task
    /// is cancelled.
    func waitUntilLost() async
    /// Gives the lease back; another server may take it at once.
    func release() async
}

/// The servers sharing one database, and the leases that make each kind of background work (webhook
/// delivery, plugin dispatch, statistics, sync, purges) run on one of them at a time.
public protocol Cluster: Sendable {
    /// Whether other servers may share the database (PostgreSQL). On SQLite one server owns the file:
    /// it holds every lease, and there are no heartbeats to record.
    var isShared: Bool { get }
    /// Records `node`'s heartbeat, registering it the first time, and forgets nodes silent for longer
    /// than `forgetAfter`.
    func heartbeat(_ node: ClusterNode, forgetAfter: Duration) async throws
    /// Removes the node (it is stopping) and its agents' presence.
    func leave(node id: String) async throws
    /// Records that `node` has WebSocket connections of the agent `subject`.
    func markPresent(node: String, tenant: String, subject: String) async throws
    /// Records that `node` has no connection of the agent left and, unless another node heard from at or
    /// after `heardSince` has one, sets the agent offline; in one transaction, so that a connection a
    /// node records meanwhile is either seen or recorded after.
    /// - Returns: whether the agent was set offline.
    func markAbsent(node: String, tenant: String, subject: String, heardSince: Date) async throws -> Bool
    /// Every registered node, the most recent heartbeat first.
    func nodes() async throws -> [ClusterNode]
    /// Takes the lease `name` unless another server holds it (nil then). Taken twice by this server, it
    /// is held until released twice.
    func takeLease(_ name: String) async throws -> (any Lease)?
    /// The leases this server holds now, sorted.
    var heldLeases: [String] { get }
    /// Signalled after a commit of another server (or a CLI) changed what the request path caches (API
    /// keys, tenant settings, OAuth clients, token issuers, integrations), as soon as this server hears
    /// of it; changes made through this server invalidate its caches where they are made.
    var settingsChanged: CommitSignal { get }
}

extension Cluster {
    /// Runs `body` whenever this server holds the lease `name`: tries to take it every `retry` until it
    /// can, runs `body`, cancels it when the lease is lost and tries again. `changed` hears each take
    /// (true) and loss (false).
    /// - Returns: when `body` ends on its own (the lease is given back), or when the task is cancelled.
    /// - Throws: what `body` throws.
    public func whileHolding(
        lease name: String,
        retry: Duration = .seconds(2),
        changed: @escaping @Sendable (Bool) -> Void = { _ in },
        _ body: @escaping @Sendable () async throws -> Void
    ) async throws {
        while !Task.isCancelled {
            guard let lease = try? await takeLease(name) else {
                do { try await Task.sleep(for: retry) } catch { return }
                continue
            }
            changed(true)
            // nil: the lease was lost first.
            let ended = await withTaskGroup(of: Result<Void, any Error>?.self) { group in
                group.addTask {
                    do { return .success(try await body()) } catch { return .failure(error) }
                }
                group.addTask {
                    await lease.waitUntilLost()
                    return nil
                }
                let first = await group.next() ?? nil
                group.cancelAll()
                return first
            }
            await lease.release()
            if let ended { return try ended.get() }
            if Task.isCancelled { return }
            changed(false)
        }
    }
}
