import Foundation
import SwitchboardCore

extension SQLStore: StatisticsStore {
    public func conversationFacts(_ keys: Set<ConversationKey>) async throws -> [ConversationKey: ConversationFacts] {
        guard !keys.isEmpty else { return [:] }
        return try await read { db in
            var facts: [ConversationKey: ConversationFacts] = [:]
            for key in keys {
                let found = try db.queryFirst(
                    """
                    SELECT visitor_id, agent, category, channel, created_at, responded_at, ended_at, has_ticket
                    FROM stats_conversations WHERE tenant_id = ? AND conversation_id = ?
                    """,
                    [.text(key.tenantID), .text(key.conversationID)]
                ) { row in
                    ConversationFacts(
                        visitorID: row.text(0),
                        dimensions: [row.text(1), row.text(2), row.text(3)],
                        createdAt: row.int64(4),
                        respondedAt: row.isNull(5) ? nil : row.int64(5),
                        endedAt: row.isNull(6) ? nil : row.int64(6),
                        hasTicket: row.int64(7) != 0
                    )
                }
                facts[key] = found
            }
            return facts
        }
    }

    public func applyRollup(_ rollup: ConversationRollup, consumer: String, positions: ClosedRange<Int64>) async throws -> Bool {
        let type = StatisticType.conversation.name
        let position = positions.upperBound
        return try await write { db in
            let cursor = try db.queryFirst("SELECT position FROM consumer_cursors WHERE consumer = ?", [.text(consumer)]) { $0.int64(0) } ?? 0
            guard cursor < positions.lowerBound else { return false }
            for (key, amounts) in rollup.cells {
                let bindings: [SQLValue] = [.text(key.tenantID), .text(type), .integer(key.hour)] + key.dimensions.map(SQLValue.text)
                var slots = try db.queryFirst(
                    "SELECT slots FROM stats_hourly WHERE tenant_id = ? AND type = ? AND hour = ? AND agent = ? AND category = ? AND channel = ?",
                    bindings
                ) { $0.doubles(0) } ?? Array(repeating: 0, count: amounts.count)
                for index in amounts.indices { slots[index] += amounts[index] }
                try db.run(
                    """
                    INSERT INTO stats_hourly (tenant_id, type, hour, agent, category, channel, slots, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (tenant_id, type, hour, agent, category, channel) DO UPDATE SET slots = excluded.slots, position = excluded.position
                    """,
                    bindings + [SQLValue(doubles: slots), .integer(position)]
                )
            }
            for key in rollup.changed {
                guard let facts = rollup.facts[key] else { continue }
                try db.run(
                    """
                    INSERT INTO stats_conversations
                        (tenant_id, conversation_id, visitor_id, agent, category, channel, created_at, responded_at, ended_at, has_ticket)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (tenant_id, conversation_id) DO UPDATE SET
                        visitor_id = excluded.visitor_id, agent = excluded.agent, category = excluded.category, channel = excluded.channel,
                        created_at = excluded.created_at, responded_at = excluded.responded_at, ended_at = excluded.ended_at,
                        has_ticket = excluded.has_ticket
                    """,
                    [.text(key.tenantID), .text(key.conversationID), .text(facts.visitorID)] + facts.dimensions.map(SQLValue.text)
                        + [.integer(facts.createdAt), SQLValue(facts.respondedAt), SQLValue(facts.endedAt), .integer(facts.hasTicket ? 1 : 0)]
                )
            }
            try db.run(
                """
                INSERT INTO consumer_cursors (consumer, position, updated_at) VALUES (?, ?, ?)
                ON CONFLICT (consumer) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at
                """,
                [.text(consumer), .integer(position), SQLValue(Date())]
            )
            return true
        }
    }

    public func rollupTable(tenant: String, type: StatisticType, consumer: String) async throws -> RollupTable {
        // One read transaction (every read is one): the cursor and the rows agree.
        try await read { db in
            let position = try db.queryFirst("SELECT position FROM consumer_cursors WHERE consumer = ?", [.text(consumer)]) { $0.int64(0) } ?? 0
            var table = RollupTable(slotCount: type.slotCount, position: position)
            _ = try db.query(
                "SELECT hour, agent, category, channel, slots FROM stats_hourly WHERE tenant_id = ? AND type = ?",
                [.text(tenant), .text(type.name)]
            ) { row in
                table.add(hour: row.int64(0), dimensions: [row.text(1), row.text(2), row.text(3)], amounts: row.doubles(4))
            }
            return table
        }
    }

    public func changedCells(tenant: String, type: StatisticType, after position: Int64, limit: Int) async throws -> [RollupCell] {
        try await read { db in
            try db.query(
                """
                SELECT hour, agent, category, channel, slots, position FROM stats_hourly
                WHERE tenant_id = ?1 AND type = ?2 AND position > ?3 AND position <= coalesce(
                    (SELECT position FROM stats_hourly WHERE tenant_id = ?1 AND type = ?2 AND position > ?3 ORDER BY position LIMIT 1 OFFSET ?4),
                    9223372036854775807
                )
                ORDER BY position
                """,
                [.text(tenant), .text(type.name), .integer(position), .integer(Int64(max(limit, 1) - 1))]
            ) { row in
                RollupCell(
                    key: RollupKey(tenantID: tenant, hour: row.int64(0), dimensions: [row.text(1), row.text(2), row.text(3)]),
                    slots: row.doubles(4),
                    position: row.int64(5)
                )
            }
        }
    }

    public func sinkCursor(tenant: String, plugin: String) async throws -> Int64 {
        try await read { db in
            try db.queryFirst(
                "SELECT position FROM stats_sink_cursors WHERE tenant_id = ? AND plugin_id = ?",
                [.text(tenant), .text(plugin)]
            ) { $0.int64(0) } ?? 0
        }
    }

    public func saveSinkCursor(tenant: String, plugin: String, position: Int64) async throws {
        try await write { db in
            try db.run(
                """
                INSERT INTO stats_sink_cursors (tenant_id, plugin_id, position) VALUES (?, ?, ?)
                ON CONFLICT (tenant_id, plugin_id) DO UPDATE SET position = excluded.position
                """,
                [.text(tenant), .text(plugin), .integer(position)]
            )
        }
    }

    public func savePushed(_ entries: [PushedStatistic], tenant: String) async throws {
        let now = SQLValue(Date())
        let rows: [[SQLValue]] = try entries.map { entry in
            let metrics = String(decoding: try JSONEncoder().encode(entry.metrics), as: UTF8.self)
            return [.text(tenant), .text(entry.type.name), .integer(entry.date.dayNumber)] + entry.dimensions.map(SQLValue.text) + [.text(metrics), now]
        }
        try await write { db in
            for row in rows {
                try db.run(
                    """
                    INSERT INTO stats_pushed (tenant_id, type, day, agent, category, channel, metrics, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (tenant_id, type, day, agent, category, channel) DO UPDATE SET metrics = excluded.metrics, updated_at = excluded.updated_at
                    """,
                    row
                )
            }
        }
    }

    public func pushedStatistics(tenant: String, type: StatisticType, from start: LocalDate, through end: LocalDate) async throws -> [PushedStatistic] {
        try await read { db in
            try db.query(
                "SELECT day, agent, category, channel, metrics FROM stats_pushed WHERE tenant_id = ? AND type = ? AND day BETWEEN ? AND ?",
                [.text(tenant), .text(type.name), .integer(start.dayNumber), .integer(end.dayNumber)]
            ) { row in
                PushedStatistic(
                    type: type,
                    date: LocalDate(dayNumber: row.int64(0)),
                    dimensions: [row.text(1), row.text(2), row.text(3)],
                    metrics: (try? SwitchboardJSON.decode([String: Double].self, from: row.text(4))) ?? [:]
                )
            }
        }
    }
}
