import Foundation

/// One entry of a tenant's audit log: who did what, when, from where, and whether it was allowed.
///
/// - Important: `detail` never holds secrets: no key secrets, tokens, passwords or sealed config values.
public struct AuditEvent: Hashable, Sendable, Encodable {
    /// What happened, as a dotted name (`api_key.created`, `auth.failed`).
    public struct Action: Hashable, Sendable, Encodable, CustomStringConvertible {
        public let name: String

        /// An action; new actions need no change here.
        public init(_ name: String) {
            self.name = name
        }

        public static let authFailed = Action("auth.failed")
        public static let accessDenied = Action("access.denied")
        public static let rateLimited = Action("rate_limit.exceeded")
        public static let apiKeyCreated = Action("api_key.created")
        public static let apiKeyUpdated = Action("api_key.updated")
        public static let apiKeyRotated = Action("api_key.rotated")
        public static let apiKeyRevoked = Action("api_key.revoked")
        public static let oauthClientCreated = Action("oauth_client.created")
        public static let oauthClientRevoked = Action("oauth_client.revoked")
        public static let accessTokenRevoked = Action("access_token.revoked")
        public static let tokenIssuerCreated = Action("token_issuer.created")
        public static let tokenIssuerDeleted = Action("token_issuer.deleted")
        public static let signatureKeyCreated = Action("signature_key.created")
        public static let signatureKeyDeleted = Action("signature_key.deleted")
        public static let tenantSecurityUpdated = Action("tenant.security_updated")
        public static let tenantSettingsUpdated = Action("tenant.settings_updated")
        public static let integrationUpdated = Action("integration.updated")
        public static let integrationDisabled = Action("integration.disabled")
        public static let webhookCreated = Action("webhook.created")
        public static let webhookUpdated = Action("webhook.updated")
        public static let webhookDeleted = Action("webhook.deleted")
        public static let webhookSecretRotated = Action("webhook.secret_rotated")
        public static let webhookAutoDisabled = Action("webhook.auto_disabled")

        public var description: String { name }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(name)
        }
    }

    public var id: String
    /// Nil for failures whose credential names no tenant; those go to the server log only.
    public var tenantID: String?
    public var occurredAt: Date
    public var action: Action
    /// The principal's subject, or `anonymous`, or `system`.
    public var actor: String
    /// How the actor authenticated (`api_key`, `jwt`, …), or nil.
    public var actorMethod: String?
    /// The resource acted on, e.g. `api_key:01J…`.
    public var target: String?
    public var clientIP: String?
    /// Whether the action was allowed and carried out.
    public var isSuccess: Bool
    /// Non-secret facts: the missing scope, the changed fields, a failure reason.
    public var detail: [String: String]

    /// Creates an entry.
    public init(
        id: String,
        tenantID: String?,
        occurredAt: Date,
        action: Action,
        actor: String,
        actorMethod: String? = nil,
        target: String? = nil,
        clientIP: String? = nil,
        isSuccess: Bool,
        detail: [String: String] = [:]
    ) {
        self.id = id
        self.tenantID = tenantID
        self.occurredAt = occurredAt
        self.action = action
        self.actor = actor
        self.actorMethod = actorMethod
        self.target = target
        self.clientIP = clientIP
        self.isSuccess = isSuccess
        self.detail = detail
    }

    enum CodingKeys: String, CodingKey {
        case id, action, actor, target, detail
        case tenantID = "tenant_id"
        case occurredAt = "occurred_at"
        case actorMethod = "actor_method"
        case clientIP = "client_ip"
        case isSuccess = "success"
    }
}
