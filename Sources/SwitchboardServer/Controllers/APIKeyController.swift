import Foundation
import Hummingbird
import SwitchboardCore

/// `/api/v1/api-keys`: the calling tenant's keys. A key can grant only scopes its creator holds.
struct APIKeyController {
    let directory: any TenantDirectory
    let verifier: APIKeyVerifier
    let audit: AuditRecorder

    func addRoutes(to routes: DocumentedRoutes) {
        routes.on(.post, "/api-keys", scope: .keysManage, body: Body.self, use: create)
        routes.on(.get, "/api-keys", scope: .keysManage, use: list)
        routes.on(.get, "/api-keys/{id}", scope: .keysManage, use: get)
        routes.on(.put, "/api-keys/{id}", scope: .keysManage, body: Body.self, use: update)
        routes.on(.post, "/api-keys/{id}/rotate", scope: .keysManage, use: rotate)
        routes.on(.delete, "/api-keys/{id}", scope: .keysManage, use: revoke)
    }

    /// The body of POST (`name` and `scopes` required) and PUT (every field optional; `null` clears
    /// `expires_at` and `rate_limit`).
    struct Body: StrictBody {
        var name: String?
        var scopes: [String]?
        var expiresAt: Date??
        var allowedIPs: [String]?
        var rateLimit: Int??

        enum CodingKeys: String, CodingKey, CaseIterable {
            case name, scopes
            case expiresAt = "expires_at"
            case allowedIPs = "allowed_ips"
            case rateLimit = "rate_limit"
        }
        static let fields = Set(CodingKeys.allCases.map(\.stringValue))
        static let nullableFields: Set<String> = ["expires_at", "rate_limit"]

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decodeIfPresent(String.self, forKey: .name)
            scopes = try container.decodeIfPresent([String].self, forKey: .scopes)
            allowedIPs = try container.decodeIfPresent([String].self, forKey: .allowedIPs)
            if container.contains(.expiresAt) { expiresAt = .some(try container.decodeIfPresent(Date.self, forKey: .expiresAt)) }
            if container.contains(.rateLimit) { rateLimit = .some(try container.decodeIfPresent(Int.self, forKey: .rateLimit)) }
        }

        /// Known scope names that `principal` holds, and so may grant.
        /// - Throws: 422 for an unknown scope, 403 `scope_not_grantable` for one the principal lacks.
        static func grantable(_ names: [String], by principal: Principal) throws -> Set<Scope> {
            let scopes = Set(try names.map { try Scope.parse($0) })
            try CredentialAuthority(principal: principal, ownKey: nil).checkGrantable(scopes)
            return scopes
        }

        /// The settings, checked: known scopes the principal holds, CIDR ranges, a future expiry, a positive limit.
        func settings(grantedBy principal: Principal) throws -> APIKeySettings {
            let scopes = try scopes.map { try Self.grantable($0, by: principal) }
            if case .some(.some(let date)) = expiresAt, date <= Date() {
                throw SwitchboardError.invalidField("expires_at", "The expiry must be in the future.")
            }
            if case .some(.some(let limit)) = rateLimit { try RateLimiter.checkSettable(limit) }
            return APIKeySettings(
                name: name,
                scopes: scopes,
                expiresAt: expiresAt,
                allowedIPs: try allowedIPs.map { try $0.map { try IPAddressRange(parsing: $0) } },
                rateLimit: rateLimit
            )
        }
    }

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await CollectedBody.collect(request, context: context).decode(Body.self)
        guard body.name != nil else { throw SwitchboardError.missingField("name") }
        guard body.scopes != nil else { throw SwitchboardError.missingField("scopes") }
        let principal = context.requirePrincipal
        let settings = try await Self.authority(context, in: directory).newKeySettings(try body.settings(grantedBy: principal))
        let (key, secret) = try await directory.createAPIKey(tenant: principal.tenantID, settings: settings)
        try await audit.record(.apiKeyCreated, context: context, target: "api_key:\(key.id)", detail: ["scopes": Self.names(key.scopes)])
        return try .json(WithSecret(resource: key, secret: secret), status: .created)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await .json(ListBody(data: try directory.apiKeys(tenant: context.requirePrincipal.tenantID), nextCursor: nil, hasMore: false))
    }

    @Sendable func get(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await .json(try Self.requireKey(context, in: directory))
    }

    @Sendable func update(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await CollectedBody.collect(request, context: context).decode(Body.self)
        let principal = context.requirePrincipal
        let settings = try body.settings(grantedBy: principal)
        let existing = try await Self.requireKey(context, in: directory)
        try await Self.authority(context, in: directory).checkUpdate(of: existing, to: settings)
        let key = try await directory.updateAPIKey(id: existing.id, tenant: principal.tenantID, settings: settings)
        verifier.invalidate(keyID: key.id)
        let changed = Body.CodingKeys.allCases.filter { body.isSet($0) }.map(\.stringValue).joined(separator: " ")
        try await audit.record(.apiKeyUpdated, context: context, target: "api_key:\(key.id)", detail: ["fields": changed, "scopes": Self.names(key.scopes)])
        return try .json(key)
    }

    @Sendable func rotate(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (key, secret) = try await directory.rotateAPIKey(id: try Self.requireManageableKey(context, in: directory).id, tenant: context.requirePrincipal.tenantID)
        verifier.invalidate(keyID: key.id)
        try await audit.record(.apiKeyRotated, context: context, target: "api_key:\(key.id)")
        return try .json(WithSecret(resource: key, secret: secret))
    }

    @Sendable func revoke(_ request: Request, context: AppRequestContext) async throws -> Response {
        let key = try await directory.revokeAPIKey(id: try Self.requireManageableKey(context, in: directory).id, tenant: context.requirePrincipal.tenantID)
        verifier.invalidate(keyID: key.id)
        try await audit.record(.apiKeyRevoked, context: context, target: "api_key:\(key.id)")
        return try .json(key)
    }

    /// The key of the path's `{id}`.
    /// - Throws: `api_key_not_found`.
    static func requireKey(_ context: AppRequestContext, in directory: any TenantDirectory) async throws -> APIKey {
        guard let key = try await directory.apiKey(id: try context.parameters.require("id"), tenant: context.requirePrincipal.tenantID) else {
            throw SwitchboardError.notFound("api_key")
        }
        return key
    }

    /// The key of the path's `{id}` when the caller may act on it.
    /// - Throws: `api_key_not_found`, `credential_not_manageable`.
    static func requireManageableKey(_ context: AppRequestContext, in directory: any TenantDirectory) async throws -> APIKey {
        let key = try await requireKey(context, in: directory)
        try await authority(context, in: directory).checkManageable(key)
        return key
    }

    /// What the caller may do to credentials: its principal, and its own API key when it used one.
    static func authority(_ context: AppRequestContext, in directory: any TenantDirectory) async throws -> CredentialAuthority {
        let principal = context.requirePrincipal
        let ownsKey = principal.method == .apiKey || principal.method == .signature
        return await CredentialAuthority(principal: principal, ownKey: ownsKey ? try directory.apiKey(id: principal.subject, tenant: principal.tenantID) : nil)
    }

    private static func names(_ scopes: Set<Scope>) -> String {
        scopes.sorted().map(\.name).joined(separator: " ")
    }
}

extension APIKeyController.Body {
    fileprivate func isSet(_ key: CodingKeys) -> Bool {
        switch key {
        case .name: name != nil
        case .scopes: scopes != nil
        case .expiresAt: expiresAt != nil
        case .allowedIPs: allowedIPs != nil
        case .rateLimit: rateLimit != nil
        }
    }
}
