import Foundation
import SwitchboardCore

extension SQLStore: IntegrationStore {
    public func integrations(tenant: String?) async throws -> [IntegrationRecord] {
        try await read { db in
            if let tenant {
                return try db.query(
                    "SELECT \(Self.integrationColumns) FROM integrations WHERE tenant_id = ? ORDER BY plugin_id",
                    [.text(tenant)],
                    Self.integrationRow
                )
            }
            return try db.query("SELECT \(Self.integrationColumns) FROM integrations ORDER BY tenant_id, plugin_id", [], Self.integrationRow)
        }
    }

    public func integration(tenant: String, plugin: String) async throws -> IntegrationRecord? {
        try await read { db in try Self.integration(db, tenant: tenant, plugin: plugin) }
    }

    public func saveIntegration(tenant: String, plugin: String, isEnabled: Bool, config: JSONValue, initialCursor: Int64) async throws -> IntegrationRecord {
        let text = try SwitchboardJSON.encodeString(config)
        return try await writeSettings { db in
            let now = Self.now()
            try db.run(
                """
                INSERT INTO integrations (tenant_id, plugin_id, enabled, config, cursor_seq, updated_at, version)
                VALUES (?, ?, ?, ?, ?, ?, 1)
                ON CONFLICT (tenant_id, plugin_id) DO UPDATE SET
                    enabled = excluded.enabled, config = excluded.config, updated_at = excluded.updated_at, version = integrations.version + 1
                """,
                [.text(tenant), .text(plugin), .integer(isEnabled ? 1 : 0), .text(text), .integer(initialCursor), SQLValue(now)]
            )
            guard let record = try Self.integration(db, tenant: tenant, plugin: plugin) else { throw SwitchboardError.notFound("tenant") }
            return record
        }
    }

    public func saveIntegrationCursor(tenant: String, plugin: String, seq: Int64) async throws {
        try await write { db in
            try db.run(
                "UPDATE integrations SET cursor_seq = \(db.dialect.greatest("cursor_seq", "?")) WHERE tenant_id = ? AND plugin_id = ?",
                [.integer(seq), .text(tenant), .text(plugin)]
            )
        }
    }

    public func parkEvent(_ event: ParkedEvent) async throws {
        try await write { db in
            try db.run(
                """
                INSERT INTO parked_events (tenant_id, plugin_id, seq, type, error, attempts, parked_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (tenant_id, plugin_id, seq) DO UPDATE SET error = excluded.error, attempts = parked_events.attempts + excluded.attempts,
                    parked_at = excluded.parked_at
                """,
                [
                    .text(event.tenantID), .text(event.pluginID), .integer(event.seq), .text(event.type), .text(event.error),
                    .integer(Int64(event.attempts)), SQLValue(event.parkedAt),
                ]
            )
        }
    }

    public func parkedEvents(tenant: String, plugin: String) async throws -> [ParkedEvent] {
        try await read { db in
            try db.query(
                "SELECT seq, type, error, attempts, parked_at FROM parked_events WHERE tenant_id = ? AND plugin_id = ? ORDER BY seq",
                [.text(tenant), .text(plugin)]
            ) { row in
                ParkedEvent(
                    tenantID: tenant, pluginID: plugin, seq: row.int64(0), type: row.text(1), error: row.text(2), attempts: row.int(3),
                    parkedAt: Date(timeIntervalSince1970: Double(row.int64(4)) / 1000)
                )
            }
        }
    }

    public func parkedEventCounts() async throws -> [(tenant: String, plugin: String, count: Int)] {
        try await read { db in
            try db.query("SELECT tenant_id, plugin_id, count(*) FROM parked_events GROUP BY tenant_id, plugin_id", []) { row in
                (tenant: row.text(0), plugin: row.text(1), count: row.int(2))
            }
        }
    }

    public func removeParkedEvent(tenant: String, plugin: String, seq: Int64) async throws -> Bool {
        try await write { db in
            try db.run("DELETE FROM parked_events WHERE tenant_id = ? AND plugin_id = ? AND seq = ?", [.text(tenant), .text(plugin), .integer(seq)]) > 0
        }
    }

    public func pluginValue(tenant: String, plugin: String, key: String) async throws -> PluginValue? {
        try await read { db in try Self.pluginValue(db, tenant: tenant, plugin: plugin, key: key) }
    }

    public func putPluginValue(tenant: String, plugin: String, key: String, bytes: [UInt8], expected: ExpectedVersion) async throws -> UInt64 {
        try await write { db in
            let current = try Self.pluginValue(db, tenant: tenant, plugin: plugin, key: key)
            try Self.check(expected, against: current)
            let version = (current?.version ?? 0) + 1
            try db.run(
                """
                INSERT INTO plugin_values (tenant_id, plugin_id, key, value, version) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (tenant_id, plugin_id, key) DO UPDATE SET value = excluded.value, version = excluded.version
                """,
                [.text(tenant), .text(plugin), .text(key), .blob(bytes), .integer(Int64(version))]
            )
            return version
        }
    }

    public func deletePluginValue(tenant: String, plugin: String, key: String, expected: ExpectedVersion) async throws {
        try await write { db in
            guard let current = try Self.pluginValue(db, tenant: tenant, plugin: plugin, key: key) else {
                throw SwitchboardError.notFound("plugin_value")
            }
            try Self.check(expected, against: current)
            try db.run(
                "DELETE FROM plugin_values WHERE tenant_id = ? AND plugin_id = ? AND key = ?",
                [.text(tenant), .text(plugin), .text(key)]
            )
        }
    }

    public func appendEvent(tenant: String, type: EventType, data: JSONValue) async throws -> Event {
        let ids = self.ids
        return try await write { db in
            try ChatTransaction(db: db, tenant: tenant, now: Self.now(), ids: ids).append([DomainEvent(type: type, data: data)])
            guard
                let event = try db.queryFirst(
                    "SELECT \(Rows.eventColumns) FROM events WHERE tenant_id = ? ORDER BY seq DESC LIMIT 1",
                    [.text(tenant)],
                    Rows.event
                )
            else { throw SwitchboardError.notFound("tenant") }
            return event
        }
    }

    private static func check(_ expected: ExpectedVersion, against current: PluginValue?) throws {
        let holds =
            switch expected {
            case .any: true
            case .absent: current == nil
            case .exactly(let version): current?.version == version
            }
        guard holds else {
            throw SwitchboardError(kind: .conflict, code: "version_conflict", detail: "The stored version differs from the expected one.")
        }
    }

    private static func pluginValue(_ db: any SQLConnection, tenant: String, plugin: String, key: String) throws -> PluginValue? {
        try db.queryFirst(
            "SELECT value, version FROM plugin_values WHERE tenant_id = ? AND plugin_id = ? AND key = ?",
            [.text(tenant), .text(plugin), .text(key)]
        ) { PluginValue(bytes: $0.blob(0), version: UInt64(clamping: $0.int64(1))) }
    }

    private static func integration(_ db: any SQLConnection, tenant: String, plugin: String) throws -> IntegrationRecord? {
        try db.queryFirst(
            "SELECT \(integrationColumns) FROM integrations WHERE tenant_id = ? AND plugin_id = ?",
            [.text(tenant), .text(plugin)],
            integrationRow
        )
    }

    private static let integrationColumns = "tenant_id, plugin_id, enabled, config, cursor_seq, updated_at, version"

    private static func integrationRow(_ row: SQLRow) throws -> IntegrationRecord {
        IntegrationRecord(
            tenantID: row.text(0),
            pluginID: row.text(1),
            isEnabled: row.int(2) != 0,
            config: try JSONValue(parsing: row.text(3)),
            cursor: row.int64(4),
            updatedAt: row.date(5),
            version: row.int64(6)
        )
    }
}
