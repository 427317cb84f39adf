import Foundation
import Hummingbird
import SwitchboardCore
import SwitchboardPluginHost

/// `/api/v1/webhooks`: the calling tenant's endpoints, their secrets, test pings, the delivery log,
/// redelivery and replay.
struct WebhookController {
    let store: any SwitchboardStorage
    let dispatcher: WebhookDispatcher
    let secrets: SecretBox
    let configuration: SwitchboardConfiguration.Webhooks
    let audit: AuditRecorder

    func addRoutes(to routes: DocumentedRoutes) {
        routes.on(.post, "/webhooks", scope: .webhooksManage, body: Body.self, use: create)
        routes.on(.get, "/webhooks", scope: .webhooksManage, use: list)
        routes.on(.get, "/webhooks/{id}", scope: .webhooksManage, use: get)
        routes.on(.put, "/webhooks/{id}", scope: .webhooksManage, body: Body.self, use: update)
        routes.on(.delete, "/webhooks/{id}", scope: .webhooksManage, use: delete)
        routes.on(.post, "/webhooks/{id}/rotate-secret", scope: .webhooksManage, use: rotate)
        routes.on(.post, "/webhooks/{id}/test", scope: .webhooksManage, use: test)
        routes.on(.get, "/webhooks/{id}/deliveries", scope: .webhooksManage, use: deliveries)
        routes.on(.post, "/webhooks/{id}/deliveries/{delivery_id}/redeliver", scope: .webhooksManage, use: redeliver)
        routes.on(.post, "/webhooks/{id}/replay", scope: .webhooksManage, body: Replay.self, use: replay)
    }

    /// The body of POST (`url` and `events` required) and PUT (every field optional).
    struct Body: StrictBody {
        var url: String?
        var events: [String]?
        var description: String?
        var timeoutMilliseconds: Int?
        var maxInFlight: Int?
        var enabled: Bool?
        /// POST only: the receiver must echo a challenge before the endpoint is created.
        var verifyOwnership: Bool?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case url, events, description, enabled
            case timeoutMilliseconds = "timeout_ms"
            case maxInFlight = "max_in_flight"
            case verifyOwnership = "verify_ownership"
        }
        static let fields = Set(CodingKeys.allCases.map(\.stringValue))
    }

    struct Replay: StrictBody {
        var sinceSeq: Int64
        enum CodingKeys: String, CodingKey { case sinceSeq = "since_seq" }
        static let fields: Set<String> = ["since_seq"]
    }

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await CollectedBody.collect(request, context: context).decode(Body.self)
        guard let url = body.url else { throw SwitchboardError.missingField("url") }
        guard let events = body.events else { throw SwitchboardError.missingField("events") }
        let tenant = context.requirePrincipal.tenantID
        let patterns = try Self.patterns(events)
        let timeout = try Self.timeout(body.timeoutMilliseconds ?? 10_000)
        let maxInFlight = try Self.maxInFlight(body.maxInFlight ?? 1)
        let checkedURL = try await check(url: url)
        let secret = WebhookSignature.makeSecret()
        if body.verifyOwnership == true {
            let outcome = await dispatcher.sender.verifyOwnership(url: checkedURL, secret: secret, timeoutMilliseconds: timeout)
            guard outcome.isSuccess else {
                let answer = outcome.attempt.statusCode.map { "answered \($0) without the challenge" } ?? (outcome.attempt.error ?? "did not answer")
                throw SwitchboardError(
                    kind: .invalidInput,
                    code: "ownership_not_verified",
                    detail: "The receiver \(answer); it must echo the url_verification challenge.",
                    field: "url"
                )
            }
        }
        let id = TimeOrderedIDGenerator.shared.make()
        let webhook = try await store.createWebhook(
            id: id,
            tenant: tenant,
            url: checkedURL,
            events: patterns,
            description: body.description,
            timeoutMilliseconds: timeout,
            maxInFlight: maxInFlight,
            isEnabled: body.enabled ?? true,
            secret: try secrets.seal(text: secret, scope: WebhookDispatcher.secretScope(tenant: tenant, webhook: id))
        )
        await dispatcher.refresh()
        try await audit.record(.webhookCreated, context: context, target: "webhook:\(id)", detail: ["host": URL(string: checkedURL)?.host ?? ""])
        return try .json(WithSecret(resource: webhook, secret: secret), status: .created, version: webhook.version)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await .json(ListBody(data: try store.webhooks(tenant: context.requirePrincipal.tenantID), nextCursor: nil, hasMore: false))
    }

    @Sendable func get(_ request: Request, context: AppRequestContext) async throws -> Response {
        let webhook = try await requireWebhook(context)
        return try .json(WithBreaker(webhook: webhook, breaker: await dispatcher.breaker(of: webhook.id)), version: webhook.version)
    }

    @Sendable func update(_ request: Request, context: AppRequestContext) async throws -> Response {
        var webhook = try await requireWebhook(context)
        let expected = try ETag.expectedVersion(request)
        if let expected, expected != webhook.version { throw SwitchboardError.versionMismatch(current: webhook.version) }
        let body = try await CollectedBody.collect(request, context: context).decode(Body.self)
        guard body.verifyOwnership == nil else {
            throw SwitchboardError.invalidField("verify_ownership", "The ownership challenge is made when an endpoint is created.")
        }
        if let url = body.url { webhook.url = try await check(url: url) }
        if let events = body.events { webhook.events = try Self.patterns(events) }
        if let description = body.description { webhook.description = description }
        if let timeout = body.timeoutMilliseconds { webhook.timeoutMilliseconds = try Self.timeout(timeout) }
        if let maxInFlight = body.maxInFlight { webhook.maxInFlight = try Self.maxInFlight(maxInFlight) }
        if let enabled = body.enabled { webhook.isEnabled = enabled }
        let updated = try await store.updateWebhook(webhook)
        await dispatcher.refresh()
        try await audit.record(.webhookUpdated, context: context, target: "webhook:\(webhook.id)", detail: ["host": URL(string: updated.url)?.host ?? "", "enabled": String(updated.isEnabled)])
        return try .json(updated, version: updated.version)
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> Response {
        let webhook = try await requireWebhook(context)
        try await store.deleteWebhook(id: webhook.id, tenant: webhook.tenantID)
        await dispatcher.refresh()
        try await audit.record(.webhookDeleted, context: context, target: "webhook:\(webhook.id)")
        return Response(status: .noContent)
    }

    @Sendable func rotate(_ request: Request, context: AppRequestContext) async throws -> Response {
        let webhook = try await requireWebhook(context)
        let secret = WebhookSignature.makeSecret()
        let previousUntil = Date().addingTimeInterval(configuration.secretGrace / .seconds(1))
        try await store.rotateWebhookSecret(
            id: webhook.id,
            tenant: webhook.tenantID,
            secret: try secrets.seal(text: secret, scope: WebhookDispatcher.secretScope(tenant: webhook.tenantID, webhook: webhook.id)),
            previousUntil: previousUntil
        )
        try await audit.record(.webhookSecretRotated, context: context, target: "webhook:\(webhook.id)")
        return try .json(JSONValue.object(["secret": .string(secret), "previous_secret_valid_until": .string(previousUntil.ISO8601Format())]))
    }

    @Sendable func test(_ request: Request, context: AppRequestContext) async throws -> Response {
        let webhook = try await requireWebhook(context)
        let now = Date()
        let ping = Event(
            id: TimeOrderedIDGenerator.shared.make(now: now),
            type: "webhook.ping",
            tenantID: webhook.tenantID,
            seq: 0,
            timestamp: Int64(now.timeIntervalSince1970),
            data: .object(["webhook_id": .string(webhook.id)]),
            position: 0
        )
        var delivery = try WebhookDispatcher.delivery(of: ping, to: webhook)
        delivery.seq = nil
        try await store.enqueueDeliveries([delivery], replay: true)
        dispatcher.queued.notify()
        return try .json(JSONValue.object(["delivery_id": .string(delivery.id)]), status: .accepted)
    }

    @Sendable func deliveries(_ request: Request, context: AppRequestContext) async throws -> Response {
        let webhook = try await requireWebhook(context)
        let limit = try request.pageRequest().limit
        let deliveries = try await store.deliveries(webhook: webhook.id, tenant: webhook.tenantID, limit: limit)
        return try .json(ListBody(data: deliveries, nextCursor: nil, hasMore: false))
    }

    @Sendable func redeliver(_ request: Request, context: AppRequestContext) async throws -> Response {
        let webhook = try await requireWebhook(context)
        try await store.redeliver(delivery: try context.parameters.require("delivery_id"), webhook: webhook.id, tenant: webhook.tenantID)
        dispatcher.queued.notify()
        return Response(status: .accepted)
    }

    @Sendable func replay(_ request: Request, context: AppRequestContext) async throws -> Response {
        let webhook = try await requireWebhook(context)
        let replay = try await CollectedBody.collect(request, context: context).decode(Replay.self)
        guard replay.sinceSeq >= 0 else { throw SwitchboardError.invalidField("since_seq", "'since_seq' must be 0 or more.") }
        var after = replay.sinceSeq
        var queued = 0
        while true {
            let events = try await store.events(tenant: webhook.tenantID, after: after, limit: 500)
            guard let last = events.last else { break }
            let deliveries = try events.filter { webhook.events.matches($0.type) }.map { try WebhookDispatcher.delivery(of: $0, to: webhook) }
            try await store.enqueueDeliveries(deliveries, replay: true)
            queued += deliveries.count
            after = last.seq
        }
        dispatcher.queued.notify()
        return try .json(JSONValue.object(["queued": JSONValue(Int64(queued))]), status: .accepted)
    }

    // MARK: - Helpers

    private func requireWebhook(_ context: AppRequestContext) async throws -> Webhook {
        guard let webhook = try await store.webhook(id: try context.parameters.require("id"), tenant: context.requirePrincipal.tenantID) else {
            throw SwitchboardError.notFound("webhook")
        }
        return webhook
    }

    /// The URL when it is absolute https (or http when allowed) and its host passes the SSRF guard.
    private func check(url: String) async throws -> String {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), let host = parsed.host, !host.isEmpty,
            scheme == "https" || (scheme == "http" && configuration.allowsHTTP)
        else {
            throw SwitchboardError.invalidField("url", configuration.allowsHTTP ? "'url' must be an absolute http or https URL." : "'url' must be an absolute https URL.")
        }
        switch await OutboundAddressPolicy(allowsPrivateNetworks: configuration.allowsPrivateNetworks).check(host: host) {
        case .permitted: return url
        case .unresolved: throw SwitchboardError(kind: .invalidInput, code: "url_unresolvable", detail: "The host of 'url' does not resolve.", field: "url")
        case .refused:
            throw SwitchboardError(
                kind: .invalidInput,
                code: "url_not_allowed",
                detail: "The host of 'url' resolves to a loopback, private, link-local or reserved address.",
                field: "url"
            )
        }
    }

    private static func patterns(_ texts: [String]) throws -> [EventPattern] {
        guard !texts.isEmpty, texts.count <= 64 else { throw SwitchboardError.invalidField("events", "'events' must list 1 to 64 event types or patterns.") }
        return try texts.map { text in
            guard let pattern = EventPattern(text) else {
                throw SwitchboardError.invalidField("events", "'\(text)' is not an event type, 'prefix.*' or '*'.")
            }
            return pattern
        }
    }

    private static func maxInFlight(_ count: Int) throws -> Int {
        guard (1...64).contains(count) else { throw SwitchboardError.invalidField("max_in_flight", "'max_in_flight' must be 1 to 64.") }
        return count
    }

    private static func timeout(_ milliseconds: Int) throws -> Int {
        guard (100...30_000).contains(milliseconds) else { throw SwitchboardError.invalidField("timeout_ms", "'timeout_ms' must be 100 to 30000.") }
        return milliseconds
    }
}

/// An endpoint with the state of its circuit breaker (null when no worker runs, e.g. disabled).
private struct WithBreaker: Encodable {
    let webhook: Webhook
    let breaker: CircuitBreaker?

    enum CodingKeys: String, CodingKey { case breaker }

    func encode(to encoder: any Encoder) throws {
        try webhook.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        let state = breaker.map { JSONValue.object(["state": .string($0.state.name), "consecutive_failures": JSONValue(Int64($0.consecutiveFailures))]) }
        try container.encode(state ?? .null, forKey: .breaker)
    }
}
