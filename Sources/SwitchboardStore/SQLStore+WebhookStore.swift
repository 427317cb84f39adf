import Foundation
import SwitchboardCore

extension SQLStore: WebhookStore {
    public func createWebhook(
        id: String,
        tenant: String,
        url: String,
        events: [EventPattern],
        description: String?,
        timeoutMilliseconds: Int,
        maxInFlight: Int,
        isEnabled: Bool,
        secret: String
    ) async throws -> Webhook {
        let patterns = try SwitchboardJSON.encodeString(events.map(\.text))
        return try await write { db in
            let now = Self.now()
            try db.run(
                """
                INSERT INTO webhooks (tenant_id, id, url, events, description, timeout_ms, max_in_flight, enabled, secret, created_at, updated_at, version)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
                """,
                [
                    .text(tenant), .text(id), .text(url), .text(patterns), SQLValue(description), .integer(Int64(timeoutMilliseconds)),
                    .integer(Int64(maxInFlight)), .integer(isEnabled ? 1 : 0), .text(secret), SQLValue(now), SQLValue(now),
                ]
            )
            return try Self.webhook(db, id: id, tenant: tenant)!
        }
    }

    public func webhooks(tenant: String) async throws -> [Webhook] {
        try await read { db in
            try db.query("SELECT \(Self.webhookColumns) FROM webhooks WHERE tenant_id = ? ORDER BY id", [.text(tenant)], Self.webhookRow)
        }
    }

    public func webhookFigures() async throws -> WebhookFigures {
        try await read { db in
            try db.queryFirst(
                """
                SELECT (SELECT count(*) FROM webhooks WHERE enabled = 0 AND disabled_reason IS NOT NULL),
                       (SELECT count(*) FROM webhook_deliveries \(db.dialect.indexedBy(Self.pendingIndex)) WHERE status = 'pending')
                """,
                []
            ) { WebhookFigures(disabledEndpoints: $0.int64(0), waitingDeliveries: $0.int64(1)) } ?? WebhookFigures(disabledEndpoints: 0, waitingDeliveries: 0)
        }
    }

    public func enabledWebhooks() async throws -> [Webhook] {
        try await read { db in try db.query("SELECT \(Self.webhookColumns) FROM webhooks WHERE enabled = 1 ORDER BY id", [], Self.webhookRow) }
    }

    public func webhook(id: String, tenant: String) async throws -> Webhook? {
        try await read { db in try Self.webhook(db, id: id, tenant: tenant) }
    }

    public func updateWebhook(_ webhook: Webhook) async throws -> Webhook {
        let patterns = try SwitchboardJSON.encodeString(webhook.events.map(\.text))
        return try await write { db in
            let changed = try db.run(
                """
                UPDATE webhooks SET url = ?, events = ?, description = ?, timeout_ms = ?, max_in_flight = ?, enabled = ?,
                    disabled_reason = CASE WHEN ? = 1 THEN NULL ELSE disabled_reason END, updated_at = ?, version = version + 1
                WHERE tenant_id = ? AND id = ?
                """,
                [
                    .text(webhook.url), .text(patterns), SQLValue(webhook.description), .integer(Int64(webhook.timeoutMilliseconds)),
                    .integer(Int64(webhook.maxInFlight)), .integer(webhook.isEnabled ? 1 : 0), .integer(webhook.isEnabled ? 1 : 0), SQLValue(Self.now()), .text(webhook.tenantID),
                    .text(webhook.id),
                ]
            )
            guard changed > 0, let updated = try Self.webhook(db, id: webhook.id, tenant: webhook.tenantID) else {
                throw SwitchboardError.notFound("webhook")
            }
            return updated
        }
    }

    public func disableWebhook(id: String, tenant: String, reason: String) async throws {
        try await write { db in
            try db.run(
                "UPDATE webhooks SET enabled = 0, disabled_reason = ?, updated_at = ?, version = version + 1 WHERE tenant_id = ? AND id = ?",
                [.text(reason), SQLValue(Self.now()), .text(tenant), .text(id)]
            )
        }
    }

    public func deleteWebhook(id: String, tenant: String) async throws {
        try await write { db in
            guard try db.run("DELETE FROM webhooks WHERE tenant_id = ? AND id = ?", [.text(tenant), .text(id)]) > 0 else {
                throw SwitchboardError.notFound("webhook")
            }
            try db.run("DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE webhook_id = ?)", [.text(id)])
            try db.run("DELETE FROM webhook_deliveries WHERE webhook_id = ?", [.text(id)])
        }
    }

    public func webhookSecrets(id: String, tenant: String) async throws -> (current: String, previous: String?) {
        let now = Self.now()
        guard
            let secrets = try await read({ db in
                try db.queryFirst(
                    "SELECT secret, previous_secret, previous_until FROM webhooks WHERE tenant_id = ? AND id = ?",
                    [.text(tenant), .text(id)]
                ) { row in (row.text(0), row.optionalText(1), row.optionalDate(2)) }
            })
        else { throw SwitchboardError.notFound("webhook") }
        let previous = secrets.2.map { $0 > now } == true ? secrets.1 : nil
        return (secrets.0, previous)
    }

    public func rotateWebhookSecret(id: String, tenant: String, secret: String, previousUntil: Date) async throws {
        try await write { db in
            let changed = try db.run(
                """
                UPDATE webhooks SET previous_secret = secret, previous_until = ?, secret = ?, updated_at = ?, version = version + 1
                WHERE tenant_id = ? AND id = ?
                """,
                [SQLValue(previousUntil), .text(secret), SQLValue(Self.now()), .text(tenant), .text(id)]
            )
            guard changed > 0 else { throw SwitchboardError.notFound("webhook") }
        }
    }

    public func enqueueDeliveries(_ deliveries: [WebhookDelivery], replay: Bool) async throws {
        guard !deliveries.isEmpty else { return }
        try await write { db in
            for delivery in deliveries {
                try db.run(
                    """
                    INSERT INTO webhook_deliveries
                        (id, tenant_id, webhook_id, event_id, event_type, seq, replay, status, next_attempt_at, created_at, payload)
                    VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)
                    ON CONFLICT DO NOTHING
                    """,
                    [
                        .text(delivery.id), .text(delivery.tenantID), .text(delivery.webhookID), SQLValue(delivery.eventID),
                        .text(delivery.eventType), SQLValue(delivery.seq), .integer(replay ? 1 : 0), SQLValue(delivery.nextAttemptAt),
                        SQLValue(delivery.createdAt), .blob(delivery.payload),
                    ]
                )
            }
        }
    }

    public func nextDelivery(webhook: String) async throws -> WebhookDelivery? {
        try await read { db in
            try db.queryFirst(
                "SELECT \(Self.deliveryColumns) FROM webhook_deliveries \(db.dialect.indexedBy(Self.pendingIndex)) WHERE webhook_id = ? AND status = 'pending' ORDER BY position LIMIT 1",
                [.text(webhook)],
                Self.deliveryRow
            )
        }
    }

    public func dueDeliveries(webhook: String, now: Date, limit: Int, excluding excluded: Set<String>) async throws -> [WebhookDelivery] {
        try await read { db in
            try db.query(
                """
                SELECT \(Self.deliveryColumns) FROM webhook_deliveries \(db.dialect.indexedBy(Self.pendingIndex))
                WHERE webhook_id = ? AND status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
                ORDER BY position LIMIT ?
                """,
                [.text(webhook), SQLValue(now), .integer(Int64(limit + excluded.count))],
                Self.deliveryRow
            )
        }.filter { !excluded.contains($0.id) }.prefix(limit).map { $0 }
    }

    public func nextDueDate(webhook: String) async throws -> Date? {
        try await read { db in
            try db.queryFirst(
                "SELECT min(coalesce(next_attempt_at, 0)) FROM webhook_deliveries \(db.dialect.indexedBy(Self.pendingIndex)) WHERE webhook_id = ? AND status = 'pending'",
                [.text(webhook)]
            ) { $0.optionalDate(0) }
        } ?? nil
    }

    public func recordAttempts(_ attempts: [(delivery: String, attempt: WebhookAttempt, result: WebhookAttemptResult)]) async throws {
        try await write { db in
            for (delivery, attempt, result) in attempts {
                try db.run(
                    "INSERT INTO webhook_attempts (delivery_id, at, status_code, latency_ms, error, response_body) VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        .text(delivery), SQLValue(attempt.at), SQLValue(attempt.statusCode.map(Int64.init)),
                        .integer(Int64(attempt.latencyMilliseconds)), SQLValue(attempt.error), SQLValue(attempt.responseBody),
                    ]
                )
                let (status, next): (WebhookDelivery.Status, Date?) =
                    switch result {
                    case .succeeded: (.succeeded, nil)
                    case .failed: (.failed, nil)
                    case .dead: (.dead, nil)
                    case .retry(let at): (.pending, at)
                    }
                try db.run(
                    "UPDATE webhook_deliveries SET status = ?, next_attempt_at = ? WHERE id = ?",
                    [.text(status.name), SQLValue(next), .text(delivery)]
                )
            }
        }
    }

    public func deliveries(webhook: String, tenant: String, limit: Int) async throws -> [WebhookDelivery] {
        try await read { db in
            var deliveries = try db.query(
                "SELECT \(Self.deliveryColumns) FROM webhook_deliveries WHERE webhook_id = ? AND tenant_id = ? ORDER BY position DESC LIMIT ?",
                [.text(webhook), .text(tenant), .integer(Int64(limit))],
                Self.deliveryRow
            )
            for index in deliveries.indices {
                deliveries[index].attempts = try db.query(
                    "SELECT at, status_code, latency_ms, error, response_body FROM webhook_attempts WHERE delivery_id = ? ORDER BY \(db.dialect.attemptOrder)",
                    [.text(deliveries[index].id)]
                ) { row in
                    WebhookAttempt(
                        at: row.date(0),
                        statusCode: row.isNull(1) ? nil : row.int(1),
                        latencyMilliseconds: row.int(2),
                        error: row.optionalText(3),
                        responseBody: row.optionalText(4)
                    )
                }
            }
            return deliveries
        }
    }

    public func redeliver(delivery: String, webhook: String, tenant: String) async throws {
        try await write { db in
            let changed = try db.run(
                "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = NULL WHERE id = ? AND webhook_id = ? AND tenant_id = ?",
                [.text(delivery), .text(webhook), .text(tenant)]
            )
            guard changed > 0 else { throw SwitchboardError.notFound("delivery") }
        }
    }

    /// Pending deliveries are read through the partial index of pending rows; left to itself the planner
    /// takes the index of all deliveries and walks every delivered row before the first pending one.
    private static let pendingIndex = "webhook_deliveries_pending"

    private static let webhookColumns =
        "tenant_id, id, url, events, description, timeout_ms, enabled, disabled_reason, created_at, updated_at, version, max_in_flight"

    private static func webhook(_ db: any SQLConnection, id: String, tenant: String) throws -> Webhook? {
        try db.queryFirst("SELECT \(webhookColumns) FROM webhooks WHERE tenant_id = ? AND id = ?", [.text(tenant), .text(id)], webhookRow)
    }

    private static func webhookRow(_ row: SQLRow) throws -> Webhook {
        let patterns = try SwitchboardJSON.decode([String].self, from: row.text(3))
        return Webhook(
            id: row.text(1),
            tenantID: row.text(0),
            url: row.text(2),
            events: patterns.compactMap(EventPattern.init),
            description: row.optionalText(4),
            timeoutMilliseconds: row.int(5),
            maxInFlight: row.int(11),
            isEnabled: row.int(6) != 0,
            disabledReason: row.optionalText(7),
            createdAt: row.date(8),
            updatedAt: row.date(9),
            version: row.int64(10)
        )
    }

    private static let deliveryColumns = """
        id, webhook_id, tenant_id, event_id, event_type, seq, status, next_attempt_at, created_at, payload,
        (SELECT count(*) FROM webhook_attempts WHERE delivery_id = webhook_deliveries.id)
        """

    private static func deliveryRow(_ row: SQLRow) throws -> WebhookDelivery {
        WebhookDelivery(
            id: row.text(0),
            webhookID: row.text(1),
            tenantID: row.text(2),
            eventID: row.optionalText(3),
            eventType: row.text(4),
            seq: row.isNull(5) ? nil : row.int64(5),
            status: WebhookDelivery.Status(named: row.text(6)) ?? .pending,
            nextAttemptAt: row.optionalDate(7),
            createdAt: row.date(8),
            attemptCount: row.int(10),
            payload: row.blob(9)
        )
    }
}
