import Hummingbird
import SwitchboardCore

/// `/api/v1/settings`: the calling tenant's own settings (admin): `time_zone`, the IANA zone in which
/// its systems write wall-clock times such as the seed's `"2023-10-26 12:00:00"`.
struct SettingsController {
    let directory: any TenantDirectory
    let audit: AuditRecorder

    func addRoutes(to routes: DocumentedRoutes) {
        routes.on(.get, "/settings", scope: .admin, use: get)
        routes.on(.put, "/settings", scope: .admin, body: Body.self, use: put)
    }

    /// PUT's body: each field replaces the current value when present.
    struct Body: StrictBody {
        var timeZone: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case timeZone = "time_zone"
        }
        static let fields = Set(CodingKeys.allCases.map(\.stringValue))
    }

    @Sendable func get(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await .json(try directory.tenantSettings(tenant: context.requirePrincipal.tenantID))
    }

    @Sendable func put(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await CollectedBody.collect(request, context: context).decode(Body.self)
        let tenant = context.requirePrincipal.tenantID
        var settings = try await directory.tenantSettings(tenant: tenant)
        if let name = body.timeZone {
            guard let named = TenantSettings(timeZoneName: name) else {
                throw SwitchboardError.invalidField("time_zone", "The field 'time_zone' must name an IANA time zone such as Asia/Shanghai or UTC.")
            }
            settings = named
        }
        try await directory.setTenantSettings(settings, tenant: tenant)
        try await audit.record(.tenantSettingsUpdated, context: context, target: "tenant:\(tenant)", detail: ["time_zone": settings.timeZoneName])
        return try .json(settings)
    }
}
