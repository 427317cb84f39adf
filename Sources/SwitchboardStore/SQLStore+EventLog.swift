import Foundation
import SwitchboardCore

extension SQLStore: EventLog {
    public func events(tenant: String, after seq: Int64, limit: Int) async throws -> [Event] {
        try await read { db in
            try db.query(
                "SELECT \(Rows.eventColumns) FROM events WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                [.text(tenant), .integer(seq), .integer(Int64(limit))],
                Rows.event
            )
        }
    }

    public func events(afterPosition position: Int64, limit: Int) async throws -> [Event] {
        if let recent = recentEvents?.events(after: position, limit: limit) { return recent }
        if let recent = readWindow?.events(after: position, limit: limit) { return recent }
        return try await storedEvents(afterPosition: position, limit: limit)
    }

    /// `events(afterPosition:limit:)` read from the database, for positions the recent events do not
    /// cover; what it read joins the read window.
    func storedEvents(afterPosition position: Int64, limit: Int) async throws -> [Event] {
        let read = try await read { db in
            try db.query(
                "SELECT \(Rows.eventColumns) FROM events WHERE position > ? ORDER BY position LIMIT ?",
                [.integer(position), .integer(Int64(limit))]
            ) { row in RecentEvents.Entry(event: try Rows.event(row), dataBytes: row.text(7).utf8.count) }
        }
        readWindow?.record(after: position, read)
        return read.map(\.event)
    }

    public func firstRetainedSeq(tenant: String) async throws -> Int64 {
        try await read { db in
            try db.queryFirst(
                "SELECT coalesce((SELECT min(seq) FROM events WHERE tenant_id = ?1), (SELECT last_seq + 1 FROM tenants WHERE id = ?1), 1)",
                [.text(tenant)]
            ) { $0.int64(0) } ?? 1
        }
    }

    /// Appends events with the commit times they had elsewhere, in the order given: history imported from
    /// another system, or a dataset for a benchmark. Consumers see them like any other events.
    /// - Parameter events: each event with its Unix-seconds timestamp.
    public func importEvents(_ events: [(event: DomainEvent, timestamp: Int64)], tenant: String) async throws {
        let ids = self.ids
        try await write { db in
            for (event, timestamp) in events {
                let at = Date(timeIntervalSince1970: Double(timestamp))
                try ChatTransaction(db: db, tenant: tenant, now: at, ids: ids).append([event])
            }
        }
    }

    public func lastSeq(tenant: String) async throws -> Int64 {
        try await read { db in try db.queryFirst("SELECT last_seq FROM tenants WHERE id = ?", [.text(tenant)]) { $0.int64(0) } ?? 0 }
    }

    public func lastPosition() async throws -> Int64 {
        try await read { db in try db.queryFirst("SELECT coalesce(max(position), 0) FROM events") { $0.int64(0) } ?? 0 }
    }

    public func cursor(consumer: String) async throws -> Int64 {
        try await read { db in
            try db.queryFirst("SELECT position FROM consumer_cursors WHERE consumer = ?", [.text(consumer)]) { $0.int64(0) } ?? 0
        }
    }

    public func cursors() async throws -> [String: Int64] {
        try await read { db in
            Dictionary(uniqueKeysWithValues: try db.query("SELECT consumer, position FROM consumer_cursors") { ($0.text(0), $0.int64(1)) })
        }
    }

    public func saveCursor(consumer: String, position: Int64) async throws {
        try await write { db in
            try db.run(
                """
                INSERT INTO consumer_cursors (consumer, position, updated_at) VALUES (?, ?, ?)
                ON CONFLICT (consumer) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at
                """,
                [.text(consumer), .integer(position), SQLValue(Date())]
            )
        }
    }
}
