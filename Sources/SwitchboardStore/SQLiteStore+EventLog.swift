import Foundation
import SwitchboardCore

extension SQLiteStore: EventLog {
    public func events(tenant: String, after seq: Int64, limit: Int) throws -> [Event] {
        try read { db in
            try db.query(
                "SELECT \(Rows.eventColumns) FROM events WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                [.text(tenant), .integer(seq), .integer(Int64(limit))],
                Rows.event
            )
        }
    }

    public func events(afterPosition position: Int64, limit: Int) throws -> [Event] {
        try read { db in
            try db.query(
                "SELECT \(Rows.eventColumns) FROM events WHERE position > ? ORDER BY position LIMIT ?",
                [.integer(position), .integer(Int64(limit))],
                Rows.event
            )
        }
    }

    public func lastSeq(tenant: String) throws -> Int64 {
        try read { db in try db.queryFirst("SELECT last_seq FROM tenants WHERE id = ?", [.text(tenant)]) { $0.int64(0) } ?? 0 }
    }

    public func lastPosition() throws -> Int64 {
        try read { db in try db.queryFirst("SELECT coalesce(max(position), 0) FROM events") { $0.int64(0) } ?? 0 }
    }

    public func cursor(consumer: String) throws -> Int64 {
        try read { db in
            try db.queryFirst("SELECT position FROM consumer_cursors WHERE consumer = ?", [.text(consumer)]) { $0.int64(0) } ?? 0
        }
    }

    public func saveCursor(consumer: String, position: Int64) async throws {
        try await write { db in
            try db.run(
                """
                INSERT INTO consumer_cursors (consumer, position, updated_at) VALUES (?, ?, ?)
                ON CONFLICT (consumer) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at
                """,
                [.text(consumer), .integer(position), SQLiteValue(Date())]
            )
        }
    }
}
