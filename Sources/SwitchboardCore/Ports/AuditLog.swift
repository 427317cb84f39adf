/// The append-only audit log.
public protocol AuditLog: Sendable {
    /// Appends an entry once it is durable.
    func record(_ event: AuditEvent) async throws
    /// Appends an entry later, without waiting; for failures on hot paths. Errors are logged.
    func submit(_ event: AuditEvent)
    /// A tenant's entries, newest first, optionally of one action.
    func auditEvents(tenant: String, action: AuditEvent.Action?, page: PageRequest) async throws -> Page<AuditEvent>
}
