import Hummingbird
import SwitchboardCore

/// `/api/v1/security`: the calling tenant's own allow-list and rate limit (admin), and its audit log.
struct SecurityController {
    let directory: any TenantDirectory
    let auditLog: any AuditLog
    let cache: ExpiringCache<String, TenantSecurity>
    let audit: AuditRecorder

    func addRoutes(to routes: DocumentedRoutes) {
        routes.on(.get, "/security", scope: .admin, use: get)
        routes.on(.put, "/security", scope: .admin, body: Body.self, use: put)
        routes.on(.get, "/audit-events", scope: .admin, use: auditEvents)
    }

    /// PUT's body: each field replaces the current value when present; `null` clears `rate_limit`.
    struct Body: StrictBody {
        var allowedIPs: [String]?
        var rateLimit: Int??

        enum CodingKeys: String, CodingKey, CaseIterable {
            case allowedIPs = "allowed_ips"
            case rateLimit = "rate_limit"
        }
        static let fields = Set(CodingKeys.allCases.map(\.stringValue))
        static let nullableFields: Set<String> = ["rate_limit"]

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            allowedIPs = try container.decodeIfPresent([String].self, forKey: .allowedIPs)
            if container.contains(.rateLimit) { rateLimit = .some(try container.decodeIfPresent(Int.self, forKey: .rateLimit)) }
        }
    }

    @Sendable func get(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await .json(try directory.tenantSecurity(tenant: context.requirePrincipal.tenantID))
    }

    @Sendable func put(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await CollectedBody.collect(request, context: context).decode(Body.self)
        let tenant = context.requirePrincipal.tenantID
        var security = try await directory.tenantSecurity(tenant: tenant)
        if let allowedIPs = body.allowedIPs { security.allowedIPs = try allowedIPs.map { try IPAddressRange(parsing: $0) } }
        if let rateLimit = body.rateLimit {
            if let limit = rateLimit { try RateLimiter.checkSettable(limit) }
            security.rateLimit = rateLimit
        }
        try await directory.setTenantSecurity(security, tenant: tenant)
        cache.invalidate { _ in true }
        try await audit.record(
            .tenantSecurityUpdated,
            context: context,
            target: "tenant:\(tenant)",
            detail: ["allowed_ips": security.allowedIPs.map(\.description).joined(separator: " "), "rate_limit": security.rateLimit.map(String.init) ?? ""]
        )
        return try .json(security)
    }

    /// Newest first; `?action=` filters, `limit` and `cursor` page.
    @Sendable func auditEvents(_ request: Request, context: AppRequestContext) async throws -> Response {
        let action = request.uri.queryParameters["action"].map { AuditEvent.Action(String($0)) }
        return try await .json(ListBody(try auditLog.auditEvents(tenant: context.requirePrincipal.tenantID, action: action, page: try request.pageRequest())))
    }
}
