import Foundation
import SwitchboardCore

extension SQLStore {
    public func purge(_ records: RetainedRecords, olderThan cutoff: Date, limit: Int) async throws -> Int {
        let limit = Int64(max(1, limit))
        return try await write { db in
            switch records {
            case .events:
                // Only events every log consumer (by position) and every enabled integration (by seq) has
                // read, and none an integration parked (a retry delivers it from the log).
                return try db.run(
                    """
                    DELETE FROM events WHERE position IN (
                        SELECT position FROM events
                        WHERE timestamp < ?
                          AND position <= coalesce((SELECT min(position) FROM consumer_cursors), 0)
                          AND NOT EXISTS (
                              SELECT 1 FROM integrations i WHERE i.tenant_id = events.tenant_id AND i.enabled = 1 AND i.cursor_seq < events.seq
                          )
                          AND NOT EXISTS (SELECT 1 FROM parked_events p WHERE p.tenant_id = events.tenant_id AND p.seq = events.seq)
                        ORDER BY position LIMIT ?)
                    """,
                    [.integer(Int64(cutoff.timeIntervalSince1970)), .integer(limit)]
                )
            case .idempotencyKeys:
                return try db.run(
                    """
                    DELETE FROM idempotency_keys WHERE (tenant_id, key) IN (
                        SELECT tenant_id, key FROM idempotency_keys WHERE created_at < ? ORDER BY created_at LIMIT ?)
                    """,
                    [SQLValue(cutoff), .integer(limit)]
                )
            case .webhookDeliveries:
                // The attempts of the same deliveries first: both statements select the same rows in this transaction.
                func finished(_ column: String) -> String {
                    "SELECT \(column) FROM webhook_deliveries WHERE status != 'pending' AND created_at < ? ORDER BY position LIMIT ?"
                }
                try db.run("DELETE FROM webhook_attempts WHERE delivery_id IN (\(finished("id")))", [SQLValue(cutoff), .integer(limit)])
                return try db.run("DELETE FROM webhook_deliveries WHERE position IN (\(finished("position")))", [SQLValue(cutoff), .integer(limit)])
            case .auditEvents:
                return try db.run(
                    "DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE occurred_at < ? ORDER BY occurred_at LIMIT ?)",
                    [SQLValue(cutoff), .integer(limit)]
                )
            case .parkedEvents:
                return try db.run(
                    """
                    DELETE FROM parked_events WHERE (tenant_id, plugin_id, seq) IN (
                        SELECT tenant_id, plugin_id, seq FROM parked_events WHERE parked_at < ? ORDER BY parked_at LIMIT ?)
                    """,
                    [SQLValue(cutoff), .integer(limit)]
                )
            case .revokedTokens:
                return try db.run(
                    "DELETE FROM revoked_tokens WHERE id IN (SELECT id FROM revoked_tokens WHERE expires_at < ? LIMIT ?)",
                    [SQLValue(cutoff), .integer(limit)]
                )
            }
        }
    }

    public func reclaimSpace() async throws -> Int64 {
        try await engine.reclaimSpace(writer: writer)
    }

    public func figures() async throws -> DatabaseFigures {
        try await engine.figures()
    }

    public var writeProblem: SwitchboardError? {
        storageFull.withLock { $0 } ? Self.storageFullError : nil
    }

    static let storageFullError = SwitchboardError(
        kind: .insufficientStorage,
        code: "storage_full",
        detail: "The database's disk is full: nothing was written. Reads go on; retry once space is freed."
    )
}
