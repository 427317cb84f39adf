import Crypto
import Foundation
import Hummingbird
import SwitchboardCore
import SwitchboardPluginHost

/// `/api/v1/integrations`: the loaded plugins as the calling tenant sees them; enabling, configuring and
/// disabling them; and calls into the tenant's instance.
struct IntegrationController {
    let manager: IntegrationManager
    let audit: AuditRecorder
    /// Sign-ins an auth_provider accepted; a change of the tenant's integrations drops the tenant's, so a
    /// disabled or reconfigured directory stops admitting at once.
    let directorySignIns: ExpiringCache<SHA256Digest, VerifiedCredential>

    func addRoutes(to routes: DocumentedRoutes) {
        routes.on(.get, "/integrations", scope: .integrationsManage, use: list)
        routes.on(.get, "/integrations/{plugin}", scope: .integrationsManage, use: get)
        routes.on(.put, "/integrations/{plugin}", scope: .integrationsManage, body: Settings.self, use: put)
        routes.on(.delete, "/integrations/{plugin}", scope: .integrationsManage, use: delete)
        routes.on(.post, "/integrations/{plugin}/call", scope: .integrationsManage, body: Call.self, use: call)
        routes.on(.get, "/integrations/{plugin}/parked", scope: .integrationsManage, use: parked)
        routes.on(.post, "/integrations/{plugin}/parked/{seq}/retry", scope: .integrationsManage, use: retryParked)
        routes.on(.delete, "/integrations/{plugin}/parked/{seq}", scope: .integrationsManage, use: dropParked)
    }

    /// The body of PUT: `enabled` defaults to true; an absent `config` keeps the stored one.
    struct Settings: StrictBody {
        var enabled: Bool?
        var config: JSONValue?
        static let fields: Set<String> = ["enabled", "config"]
    }

    /// The body of a call: an operation name and its JSON arguments.
    struct Call: StrictBody {
        var op: String
        var args: JSONValue?
        static let fields: Set<String> = ["op", "args"]
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        let views = try await manager.integrations(tenant: context.requirePrincipal.tenantID)
        return try .json(ListBody(data: views, nextCursor: nil, hasMore: false))
    }

    @Sendable func get(_ request: Request, context: AppRequestContext) async throws -> Response {
        try .json(await manager.integration(tenant: context.requirePrincipal.tenantID, plugin: context.parameters.require("plugin")))
    }

    @Sendable func put(_ request: Request, context: AppRequestContext) async throws -> Response {
        let settings = try await CollectedBody.collect(request, context: context).decode(Settings.self)
        if let config = settings.config, case .object = config {} else if settings.config != nil {
            throw SwitchboardError.invalidField("config", "'config' must be a JSON object.")
        }
        let plugin = try context.parameters.require("plugin")
        let isEnabled = settings.enabled ?? true
        let tenant = context.requirePrincipal.tenantID
        // A directory decides who signs in with which role, as a token issuer does: admin only.
        let manifest = try await manager.integration(tenant: tenant, plugin: plugin).manifest
        if manifest.capabilities.contains(.authProvider), !context.requirePrincipal.allows(.admin) {
            throw SwitchboardError(
                kind: .forbidden,
                code: "missing_scope",
                detail: "An auth_provider plugin maps directory users to roles, admin among them: configuring one needs the scope 'admin'."
            )
        }
        let view = try await manager.configure(tenant: tenant, plugin: plugin, isEnabled: isEnabled, config: settings.config)
        directorySignIns.invalidate { $0.principal.tenantID == tenant }
        // The config may hold secrets: the entry names what changed, never the values.
        try await audit.record(
            .integrationUpdated,
            context: context,
            target: "integration:\(plugin)",
            detail: ["enabled": String(isEnabled), "config_changed": String(settings.config != nil)]
        )
        return try .json(view)
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> Response {
        let plugin = try context.parameters.require("plugin")
        let tenant = context.requirePrincipal.tenantID
        try await manager.disable(tenant: tenant, plugin: plugin)
        directorySignIns.invalidate { $0.principal.tenantID == tenant }
        try await audit.record(.integrationDisabled, context: context, target: "integration:\(plugin)")
        return Response(status: .noContent)
    }

    @Sendable func call(_ request: Request, context: AppRequestContext) async throws -> Response {
        let call = try await CollectedBody.collect(request, context: context).decode(Call.self)
        guard !call.op.isEmpty, call.op.utf8.count <= 128 else { throw SwitchboardError.invalidField("op", "'op' must be 1 to 128 bytes.") }
        // Checking a password is sign-in's work, behind its failed-authentication limit: never a call.
        guard call.op != "auth.verify" else {
            throw SwitchboardError(kind: .forbidden, code: "op_reserved", detail: "auth.verify is called by directory sign-in only.", field: "op")
        }
        let outcome = try await manager.call(
            tenant: context.requirePrincipal.tenantID,
            plugin: context.parameters.require("plugin"),
            op: call.op,
            args: call.args ?? .object([:])
        )
        guard outcome.status == .ok else { throw Problem(pluginOutcome: outcome, op: call.op) }
        guard let result = try? JSONValue(parsing: outcome.body.isEmpty ? Array("null".utf8) : outcome.body) else {
            throw Problem(status: .badGateway, code: "plugin_invalid_result", detail: "The plugin's result for \(call.op) is not JSON.")
        }
        return try .json(result)
    }

    /// The events the tenant's instance set aside after repeated failures, oldest first.
    @Sendable func parked(_ request: Request, context: AppRequestContext) async throws -> Response {
        let events = try await manager.parkedEvents(tenant: context.requirePrincipal.tenantID, plugin: context.parameters.require("plugin"))
        let items: [JSONValue] = events.map { event in
            [
                "seq": JSONValue(event.seq), "event": .string(event.type), "error": .string(event.error), "attempts": JSONValue(Int64(event.attempts)),
                "parked_at": .string(event.parkedAt.formatted(.iso8601)),
            ]
        }
        return try .json(JSONValue.object(["data": .array(items), "next_cursor": .null, "has_more": false]))
    }

    /// Delivers a parked event again now: 200 when the plugin took it, else the plugin's problem (the
    /// event stays parked with the new error).
    @Sendable func retryParked(_ request: Request, context: AppRequestContext) async throws -> Response {
        let plugin = try context.parameters.require("plugin")
        let seq = try Self.seq(context)
        let outcome = try await manager.retryParked(tenant: context.requirePrincipal.tenantID, plugin: plugin, seq: seq)
        try await audit.record(.integrationUpdated, context: context, target: "integration:\(plugin)", detail: ["parked_retry": String(seq), "status": outcome.status.name])
        guard outcome.status.acknowledgesEvent else { throw Problem(pluginOutcome: outcome, op: "on_event") }
        return try .json(JSONValue.object(["seq": JSONValue(seq), "delivered": true]))
    }

    /// Forgets a parked event without delivering it.
    @Sendable func dropParked(_ request: Request, context: AppRequestContext) async throws -> Response {
        let plugin = try context.parameters.require("plugin")
        let seq = try Self.seq(context)
        try await manager.dropParked(tenant: context.requirePrincipal.tenantID, plugin: plugin, seq: seq)
        try await audit.record(.integrationUpdated, context: context, target: "integration:\(plugin)", detail: ["parked_dropped": String(seq)])
        return Response(status: .noContent)
    }

    private static func seq(_ context: AppRequestContext) throws -> Int64 {
        guard let seq = Int64(try context.parameters.require("seq")), seq > 0 else {
            throw Problem.invalidParameter("seq", "'seq' is the event's positive seq.")
        }
        return seq
    }
}

extension Problem {
    /// The problem for a plugin call that did not succeed; the plugin's message becomes the detail.
    init(pluginOutcome outcome: CallOutcome, op: String) {
        let status: HTTPResponse.Status =
            switch outcome.status {
            case .notFound: .notFound
            case .invalid: .unprocessableContent
            case .denied: .forbidden
            case .conflict: .conflict
            case .timeout: .gatewayTimeout
            case .unavailable: .serviceUnavailable
            case .unsupported: .notImplemented
            default: .badGateway
            }
        let message = outcome.text.isEmpty ? "" : ": \(outcome.text.prefix(512))"
        self.init(status: status, code: "plugin_\(outcome.status.name)", detail: "The plugin answered '\(outcome.status.name)' to \(op)\(message)")
    }
}
