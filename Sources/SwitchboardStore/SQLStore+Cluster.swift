import Foundation
import SwitchboardCore

extension SQLStore: Cluster {
    public var isShared: Bool { !engine.isSoleWriter }

    public func heartbeat(_ node: ClusterNode, forgetAfter: Duration) async throws {
        let forgottenBefore = node.heartbeatAt.addingTimeInterval(-Double(forgetAfter.components.seconds))
        try await write { db in
            try db.run(
                """
                INSERT INTO cluster_nodes (id, address, started_at, heartbeat_at, leases) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET address = excluded.address, heartbeat_at = excluded.heartbeat_at, leases = excluded.leases
                """,
                [.text(node.id), .text(node.address), SQLValue(node.startedAt), SQLValue(node.heartbeatAt), .text(node.leases.joined(separator: " "))]
            )
            try db.run("DELETE FROM cluster_nodes WHERE heartbeat_at < ?", [SQLValue(forgottenBefore)])
            try db.run("DELETE FROM realtime_presence WHERE node_id NOT IN (SELECT id FROM cluster_nodes)")
        }
    }

    public func leave(node id: String) async throws {
        try await write { db in
            try db.run("DELETE FROM cluster_nodes WHERE id = ?", [.text(id)])
            try db.run("DELETE FROM realtime_presence WHERE node_id = ?", [.text(id)])
        }
    }

    public func markPresent(node: String, tenant: String, subject: String) async throws {
        try await write { db in
            try db.run(
                "INSERT INTO realtime_presence (node_id, tenant_id, subject) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                [.text(node), .text(tenant), .text(subject)]
            )
        }
    }

    public func markAbsent(node: String, tenant: String, subject: String, heardSince: Date) async throws -> Bool {
        let offline = try ChatCommand.updateAgent(id: subject, AgentChanges(status: .offline), expectedVersion: nil).validated()
        let ids = self.ids
        return try await write { db in
            try db.run("DELETE FROM realtime_presence WHERE node_id = ? AND tenant_id = ? AND subject = ?", [.text(node), .text(tenant), .text(subject)])
            let isPresentElsewhere = try db.queryFirst(
                """
                SELECT 1 FROM realtime_presence p JOIN cluster_nodes n ON n.id = p.node_id
                WHERE p.tenant_id = ? AND p.subject = ? AND n.heartbeat_at >= ?
                """,
                [.text(tenant), .text(subject), SQLValue(heardSince)]
            ) { _ in true } ?? false
            guard !isPresentElsewhere else { return false }
            _ = try ChatTransaction(db: db, tenant: tenant, now: Self.now(), ids: ids).apply(offline)
            return true
        }
    }

    public func nodes() async throws -> [ClusterNode] {
        try await read { db in
            try db.query("SELECT id, address, started_at, heartbeat_at, leases FROM cluster_nodes ORDER BY heartbeat_at DESC, id") { row in
                ClusterNode(
                    id: row.text(0),
                    address: row.text(1),
                    startedAt: row.date(2),
                    heartbeatAt: row.date(3),
                    leases: row.text(4).split(separator: " ").map(String.init)
                )
            }
        }
    }

    public func takeLease(_ name: String) async throws -> (any Lease)? {
        do {
            guard let lease = try await engine.takeLease(name) else { return nil }
            return HeldLease(name: name, lease: lease, held: held)
        } catch let error as any DatabaseFailure {
            logger.warning("Cannot take a lease", metadata: ["sb.lease": "\(name)", "sb.error": "\(error)"])
            throw Self.unavailableError
        }
    }

    public var heldLeases: [String] { held.sorted }
}

/// A lease the store counts among the held ones until it is released.
private struct HeldLease: Lease {
    let name: String
    let lease: any Lease
    let held: HeldLeaseNames

    init(name: String, lease: any Lease, held: HeldLeaseNames) {
        self.name = name
        self.lease = lease
        self.held = held
        held.insert(name)
    }

    func waitUntilLost() async { await lease.waitUntilLost() }

    func release() async {
        held.remove(name)
        await lease.release()
    }
}
