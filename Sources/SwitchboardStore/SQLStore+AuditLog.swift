import Foundation
import SwitchboardCore

extension SQLStore: AuditLog {
    public func record(_ event: AuditEvent) async throws {
        let bindings = try Self.auditBindings(event)
        try await write { db in try Self.insertAudit(db, bindings) }
    }

    public func submit(_ event: AuditEvent) {
        guard let bindings = try? Self.auditBindings(event) else { return }
        writer.submit { db in try Self.insertAudit(db, bindings) }
    }

    public func auditEvents(tenant: String, action: AuditEvent.Action?, page: PageRequest) async throws -> Page<AuditEvent> {
        var conditions = ["tenant_id = ?"]
        var bindings: [SQLValue] = [.text(tenant)]
        if let action {
            conditions.append("action = ?")
            bindings.append(.text(action.name))
        }
        if let after = page.after {
            conditions.append("id < ?")
            bindings.append(.text(after))
        }
        let rows = try await read { [conditions, bindings] db in
            try db.query(
                """
                SELECT id, tenant_id, occurred_at, action, actor, actor_method, target, client_ip, success, detail
                FROM audit_events WHERE \(conditions.joined(separator: " AND ")) ORDER BY id DESC LIMIT \(page.limit + 1)
                """,
                bindings
            ) { row in
                AuditEvent(
                    id: row.text(0),
                    tenantID: row.optionalText(1),
                    occurredAt: row.date(2),
                    action: AuditEvent.Action(row.text(3)),
                    actor: row.text(4),
                    actorMethod: row.optionalText(5),
                    target: row.optionalText(6),
                    clientIP: row.optionalText(7),
                    isSuccess: row.int(8) != 0,
                    detail: try SwitchboardJSON.decode([String: String].self, from: row.text(9))
                )
            }
        }
        let items = Array(rows.prefix(page.limit))
        return Page(items: items, nextAfter: rows.count > page.limit ? items.last?.id : nil)
    }

    private static func auditBindings(_ event: AuditEvent) throws -> [SQLValue] {
        [
            .text(event.id), event.tenantID.map { .text($0) } ?? .null, SQLValue(event.occurredAt), .text(event.action.name),
            .text(event.actor), event.actorMethod.map { .text($0) } ?? .null, event.target.map { .text($0) } ?? .null,
            event.clientIP.map { .text($0) } ?? .null, .integer(event.isSuccess ? 1 : 0), .text(try SwitchboardJSON.encodeString(event.detail)),
        ]
    }

    private static func insertAudit(_ db: any SQLConnection, _ bindings: [SQLValue]) throws {
        try db.run(
            """
            INSERT INTO audit_events (id, tenant_id, occurred_at, action, actor, actor_method, target, client_ip, success, detail)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            bindings
        )
    }
}
