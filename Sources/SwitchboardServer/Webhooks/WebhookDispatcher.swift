import CoreMetrics
import Foundation
import Logging
import SwitchboardCore
import SwitchboardStore

/// Turns the event log into durable per-endpoint delivery queues and works them off.
///
/// `enqueue` (fed by an `EventLogConsumer`) stores one delivery per matching enabled endpoint; one worker
/// per enabled endpoint sends that endpoint's oldest pending delivery, so deliveries go out in order per
/// endpoint (or up to `max_in_flight` due ones at once, when the endpoint allows it), retries with full-jitter backoff on the configured schedule, and marks a delivery dead after
/// the last retry. A per-endpoint circuit breaker pauses a failing endpoint; one failing for
/// `disableAfter` is disabled. Everything not yet delivered stays in the store across restarts.
actor WebhookDispatcher {
    let store: SQLiteStore
    let sender: WebhookSender
    let secrets: SecretBox
    let configuration: SwitchboardConfiguration.Webhooks
    let logger: Logger
    /// Makes `sb_webhook_attempts_total{result}` (succeeded, failed, retry, dead).
    let metrics: any MetricsFactory
    /// Wakes the workers after deliveries were queued.
    nonisolated let queued = CommitSignal()
    private var workers: [String: Task<Void, Never>] = [:]
    private var breakers: [String: CircuitBreaker] = [:]
    /// Requests in flight across every endpoint.
    private let slots: DeliverySlots
    private var isStopped = false

    init(
        store: SQLiteStore,
        sender: WebhookSender,
        secrets: SecretBox,
        configuration: SwitchboardConfiguration.Webhooks,
        metrics: any MetricsFactory,
        logger: Logger
    ) {
        self.store = store
        self.metrics = metrics
        self.sender = sender
        self.secrets = secrets
        self.configuration = configuration
        self.logger = logger
        self.slots = DeliverySlots(configuration.maxConcurrentDeliveries)
    }

    /// Starts a worker for every enabled endpoint and stops those of endpoints no longer enabled.
    func refresh() {
        guard !isStopped, let enabled = try? store.enabledWebhooks() else { return }
        let ids = Set(enabled.map(\.id))
        for (id, worker) in workers where !ids.contains(id) {
            worker.cancel()
            workers[id] = nil
        }
        for webhook in enabled where workers[webhook.id] == nil {
            let id = webhook.id
            let tenant = webhook.tenantID
            workers[id] = Task { await self.work(webhook: id, tenant: tenant) }
        }
    }

    /// Stops every worker; undelivered deliveries stay queued.
    func stop() async {
        isStopped = true
        let running = Array(workers.values)
        workers = [:]
        for worker in running { worker.cancel() }
        for worker in running { await worker.value }
    }

    /// Queues a delivery of each event to each enabled endpoint of its tenant that subscribes to it.
    func enqueue(_ events: [Event]) async throws {
        var deliveries: [WebhookDelivery] = []
        for (tenant, tenantEvents) in Dictionary(grouping: events, by: \.tenantID) {
            let endpoints = try store.webhooks(tenant: tenant).filter(\.isEnabled)
            guard !endpoints.isEmpty else { continue }
            for event in tenantEvents {
                for endpoint in endpoints where endpoint.events.matches(event.type) {
                    deliveries.append(try Self.delivery(of: event, to: endpoint))
                }
            }
        }
        try await store.enqueueDeliveries(deliveries, replay: false)
        if !deliveries.isEmpty { queued.notify() }
    }

    /// A delivery of `event` to `endpoint`, with a new id.
    static func delivery(of event: Event, to endpoint: Webhook) throws -> WebhookDelivery {
        WebhookDelivery(
            id: "msg_" + TimeOrderedIDGenerator.shared.make(),
            webhookID: endpoint.id,
            tenantID: endpoint.tenantID,
            eventID: event.id,
            eventType: event.type.name,
            seq: event.seq,
            status: .pending,
            nextAttemptAt: nil,
            createdAt: Date(),
            payload: try SwitchboardJSON.encode(event)
        )
    }

    // MARK: - One endpoint's worker

    /// The circuit breaker of an endpoint with a running worker.
    func breaker(of webhook: String) -> CircuitBreaker? { breakers[webhook] }

    private func work(webhook id: String, tenant: String) async {
        breakers[id] = CircuitBreaker(threshold: configuration.breakerThreshold, cooldown: configuration.breakerCooldown)
        defer { breakers[id] = nil }
        var failingSince: ContinuousClock.Instant?
        while !Task.isCancelled {
            let generation = queued.generation
            guard let webhook = try? store.webhook(id: id, tenant: tenant), webhook.isEnabled else { return }
            // Ordered: the oldest pending delivery goes first, even when it waits for its retry time.
            let batch: [WebhookDelivery]
            if webhook.maxInFlight == 1 {
                batch = (try? store.nextDelivery(webhook: id)).flatMap { $0 }.map { [$0] } ?? []
                if let next = batch.first?.nextAttemptAt, next > Date() {
                    await wait(until: .now + .milliseconds(Int64(next.timeIntervalSinceNow * 1_000)), orAfter: generation)
                    continue
                }
            } else {
                batch = (try? store.dueDeliveries(webhook: id, now: Date(), limit: webhook.maxInFlight, excluding: [])) ?? []
            }
            guard !batch.isEmpty else {
                if let next = try? store.nextDueDate(webhook: id) {
                    await wait(until: .now + .milliseconds(Int64(max(next.timeIntervalSinceNow, 0) * 1_000)), orAfter: generation)
                } else {
                    await queued.wait(after: generation)
                }
                continue
            }
            if let reopens = breakers[id]?.reopensAt, reopens > .now {
                await wait(until: reopens, orAfter: nil)
                continue
            }
            _ = breakers[id]?.admits(at: .now)
            guard let signing = try? signingSecrets(webhook) else {
                logger.error("Webhook secret does not open; endpoint paused", metadata: ["sb.webhook": .string(id)])
                await wait(until: .now + configuration.breakerCooldown, orAfter: nil)
                continue
            }
            let outcomes = await send(batch, to: webhook, secrets: signing)
            for outcome in outcomes {
                if outcome.isSuccess || !outcome.isRetryable {
                    breakers[id]?.recordSuccess()
                    failingSince = nil
                } else {
                    breakers[id]?.recordFailure(at: .now)
                    failingSince = failingSince ?? .now
                }
            }
            if let since = failingSince, ContinuousClock.now - since >= configuration.disableAfter {
                let last = outcomes.last?.attempt
                let reason = "every attempt failed for \(configuration.disableAfter); last: \(last?.error ?? "HTTP \(last?.statusCode ?? 0)")"
                try? await store.disableWebhook(id: id, tenant: tenant, reason: reason)
                store.submit(
                    AuditEvent(
                        id: TimeOrderedIDGenerator.shared.make(),
                        tenantID: tenant,
                        occurredAt: Date(),
                        action: .webhookAutoDisabled,
                        actor: "system",
                        target: "webhook:\(id)",
                        isSuccess: true,
                        detail: ["reason": reason]
                    )
                )
                logger.warning("Webhook endpoint disabled", metadata: ["sb.tenant": .string(tenant), "sb.webhook": .string(id), "sb.reason": .string(reason)])
                return
            }
        }
    }

    /// Sends a batch at once and records each attempt.
    private func send(_ batch: [WebhookDelivery], to webhook: Webhook, secrets: [String]) async -> [WebhookSender.Outcome] {
        let sender = sender
        let slots = slots
        let sent = await withTaskGroup(of: (WebhookDelivery, WebhookSender.Outcome).self) { group in
            for delivery in batch {
                group.addTask {
                    await slots.acquire()
                    let outcome = await sender.send(delivery, to: webhook, secrets: secrets)
                    await slots.release()
                    return (delivery, outcome)
                }
            }
            var sent: [(WebhookDelivery, WebhookSender.Outcome)] = []
            for await result in group { sent.append(result) }
            return sent
        }
        let attempts = sent.map { delivery, outcome in
            (delivery.id, outcome.attempt, result(of: outcome, attemptNumber: delivery.attemptCount + 1))
        }
        for (_, _, result) in attempts {
            let name =
                switch result {
                case .succeeded: "succeeded"
                case .failed: "failed"
                case .retry: "retry"
                case .dead: "dead"
                }
            Counter(label: "sb_webhook_attempts_total", dimensions: [("result", name)], factory: metrics).increment()
        }
        try? await store.recordAttempts(attempts)
        return sent.map(\.1)
    }

    /// What an attempt means for its delivery: done, failed for good, dead, or retried after a
    /// full-jitter pause (at least the receiver's `Retry-After`).
    private func result(of outcome: WebhookSender.Outcome, attemptNumber: Int) -> WebhookAttemptResult {
        if outcome.isSuccess { return .succeeded }
        guard outcome.isRetryable else { return .failed }
        guard attemptNumber <= configuration.retrySchedule.count else { return .dead }
        let cap = configuration.retrySchedule[attemptNumber - 1] / .milliseconds(1)
        var pause = Double.random(in: 0...max(cap, 0)) / 1_000
        if let retryAfter = outcome.retryAfter { pause = max(pause, retryAfter / .seconds(1)) }
        return .retry(at: Date().addingTimeInterval(pause))
    }

    private func signingSecrets(_ webhook: Webhook) throws -> [String] {
        let stored = try store.webhookSecrets(id: webhook.id, tenant: webhook.tenantID)
        let scope = Self.secretScope(tenant: webhook.tenantID, webhook: webhook.id)
        var signing = [try secrets.open(text: stored.current, scope: scope)]
        if let previous = stored.previous { signing.append(try secrets.open(text: previous, scope: scope)) }
        return signing
    }

    /// The additional data that binds a sealed signing secret to its endpoint.
    nonisolated static func secretScope(tenant: String, webhook: String) -> String { "webhook/\(tenant)/\(webhook)" }

    /// Sleeps until `deadline`, or until deliveries are queued after `generation` when one is given.
    private func wait(until deadline: ContinuousClock.Instant, orAfter generation: UInt64?) async {
        let queued = queued
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(until: deadline, clock: .continuous) }
            if let generation { group.addTask { await queued.wait(after: generation) } }
            await group.next()
            group.cancelAll()
        }
    }
}
