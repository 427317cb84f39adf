import Foundation

/// Tenants' webhook endpoints, their signing secrets, and the durable delivery queue with its log.
public protocol WebhookStore: Sendable {
    /// Creates an endpoint with the given id; `secret` is stored as given (the caller seals it).
    func createWebhook(id: String, tenant: String, url: String, events: [EventPattern], description: String?, timeoutMilliseconds: Int, maxInFlight: Int, isEnabled: Bool, secret: String) async throws -> Webhook
    func webhooks(tenant: String) async throws -> [Webhook]
    /// Every enabled endpoint of every tenant.
    func enabledWebhooks() async throws -> [Webhook]
    func webhook(id: String, tenant: String) async throws -> Webhook?
    /// Replaces the changeable fields of an endpoint; enabling clears `disabled_reason`.
    /// - Throws: `webhook_not_found`.
    func updateWebhook(_ webhook: Webhook) async throws -> Webhook
    /// Disables an endpoint and records why.
    func disableWebhook(id: String, tenant: String, reason: String) async throws
    /// Deletes an endpoint and its deliveries.
    func deleteWebhook(id: String, tenant: String) async throws
    /// The stored (sealed) current secret and, until it expires, the previous one.
    func webhookSecrets(id: String, tenant: String) async throws -> (current: String, previous: String?)
    /// Makes `secret` current; the old one keeps signing until `previousUntil`.
    func rotateWebhookSecret(id: String, tenant: String, secret: String, previousUntil: Date) async throws

    /// Queues deliveries; a live delivery of the same event to the same endpoint is queued once.
    func enqueueDeliveries(_ deliveries: [WebhookDelivery], replay: Bool) async throws
    /// The oldest pending delivery of an endpoint (deliveries go out in order per endpoint).
    func nextDelivery(webhook: String) async throws -> WebhookDelivery?
    /// Up to `limit` pending deliveries of an endpoint that are due at `now`, oldest first, skipping
    /// `excluded` (those in flight): the work of an endpoint that allows several in flight.
    func dueDeliveries(webhook: String, now: Date, limit: Int, excluding excluded: Set<String>) async throws -> [WebhookDelivery]
    /// When the endpoint's earliest pending delivery is due; nil when none is pending.
    func nextDueDate(webhook: String) async throws -> Date?
    /// Appends attempts and moves their deliveries on, in one transaction.
    func recordAttempts(_ attempts: [(delivery: String, attempt: WebhookAttempt, result: WebhookAttemptResult)]) async throws
    /// An endpoint's deliveries, newest first.
    func deliveries(webhook: String, tenant: String, limit: Int) async throws -> [WebhookDelivery]
    /// Across tenants: endpoints the server disabled after they kept failing, and deliveries waiting
    /// to be sent (pending, due or not).
    func webhookFigures() async throws -> WebhookFigures
    /// Queues a delivery again (any status) for an attempt now.
    /// - Throws: `delivery_not_found`.
    func redeliver(delivery: String, webhook: String, tenant: String) async throws
}

/// How webhook delivery stands across tenants, for `/metrics`.
public struct WebhookFigures: Sendable, Equatable {
    public var disabledEndpoints: Int64
    public var waitingDeliveries: Int64

    public init(disabledEndpoints: Int64, waitingDeliveries: Int64) {
        self.disabledEndpoints = disabledEndpoints
        self.waitingDeliveries = waitingDeliveries
    }
}
