import CoreMetrics
import Foundation
import Logging
import SwitchboardCore

/// Writes audit entries about the request at hand: who (the principal, or `anonymous`), from which
/// address, and when.
package struct AuditRecorder: Sendable {
    let log: any AuditLog
    /// Where refusals are counted: `sb_requests_refused_total{action,reason}`.
    var metrics: (any MetricsFactory)?

    package init(log: any AuditLog, metrics: (any MetricsFactory)? = nil) {
        self.log = log
        self.metrics = metrics
    }

    /// Records an entry and waits until it is durable; for changes a client is told succeeded.
    func record(
        _ action: AuditEvent.Action,
        context: AppRequestContext,
        target: String? = nil,
        isSuccess: Bool = true,
        detail: [String: String] = [:]
    ) async throws {
        try await log.record(entry(action, context: context, tenantID: context.principal?.tenantID, target: target, isSuccess: isSuccess, detail: detail))
    }

    /// Records an entry without waiting; for refusals on the request path.
    func submit(
        _ action: AuditEvent.Action,
        context: AppRequestContext,
        tenantID: String?,
        target: String? = nil,
        detail: [String: String]
    ) {
        let event = entry(action, context: context, tenantID: tenantID, target: target, isSuccess: false, detail: detail)
        if let metrics {
            let reason = detail["reason"] ?? detail["policy"] ?? ""
            Counter(label: "sb_requests_refused_total", dimensions: [("action", action.name), ("reason", reason)], factory: metrics).increment()
        }
        guard event.tenantID != nil else {
            // A credential naming no tenant has no tenant log to go to.
            context.logger.notice("Refused", metadata: ["sb.action": "\(action)", "sb.client_ip": "\(event.clientIP ?? "")", "sb.detail": "\(detail)"])
            return
        }
        log.submit(event)
    }

    private func entry(
        _ action: AuditEvent.Action,
        context: AppRequestContext,
        tenantID: String?,
        target: String?,
        isSuccess: Bool,
        detail: [String: String]
    ) -> AuditEvent {
        AuditEvent(
            id: TimeOrderedIDGenerator.shared.make(),
            tenantID: tenantID,
            occurredAt: Date(),
            action: action,
            actor: context.principal?.subject ?? "anonymous",
            actorMethod: context.principal?.method.name,
            target: target,
            clientIP: context.clientAddress.map(IPAddressRange.format),
            isSuccess: isSuccess,
            detail: detail
        )
    }
}
