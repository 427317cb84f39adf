import CoreMetrics
import Foundation
import Logging
import SwitchboardCore

/// Turns the event log into durable per-endpoint delivery queues and works them off.
///
/// `enqueue` (fed by an `EventLogConsumer`) stores one delivery per matching enabled endpoint; one worker
/// per enabled endpoint sends that endpoint's oldest pending delivery, so deliveries go out in order per
/// endpoint (or up to `max_in_flight` due ones at once, when the endpoint allows it), retries with full-jitter backoff on the configured schedule, and marks a delivery dead after
/// the last retry. A per-endpoint circuit breaker pauses a failing endpoint; one failing for
/// `disableAfter` is disabled. Everything not yet delivered stays in the store across restarts.
actor WebhookDispatcher {
    let store: any SwitchboardStorage
    let sender: WebhookSender
    let secrets: SecretBox
    let configuration: SwitchboardConfiguration.Webhooks
    let logger: Logger
    /// `sb_webhook_attempts_total{result}` by result name (succeeded, failed, retry, dead).
    private let attempts: [String: Counter]
    /// Wakes the workers after deliveries were queued.
    nonisolated let queued = CommitSignal()
    private var workers: [String: PooledTask] = [:]
    /// The pool the workers run in, from `start(in:)` until `stop()`.
    private var pool: TaskPool?
    private var breakers: [String: CircuitBreaker] = [:]
    /// Requests in flight across every endpoint.
    private let slots: DeliverySlots
    /// Refreshes begun, so that an older one does not undo a newer one's list.
    private var refreshes = 0

    init(
        store: any SwitchboardStorage,
        sender: WebhookSender,
        secrets: SecretBox,
        configuration: SwitchboardConfiguration.Webhooks,
        metrics: any MetricsFactory,
        logger: Logger
    ) {
        self.store = store
        self.attempts = Dictionary(
            uniqueKeysWithValues: ["succeeded", "failed", "retry", "dead"].map { name in
                (name, Counter(label: "sb_webhook_attempts_total", dimensions: [("result", name)], factory: metrics))
            }
        )
        self.sender = sender
        self.secrets = secrets
        self.configuration = configuration
        self.logger = logger
        self.slots = DeliverySlots(configuration.maxConcurrentDeliveries)
    }

    /// Starts delivering: a worker for every enabled endpoint, in `pool` (which the webhook service
    /// runs: only the server holding the webhooks' lease delivers).
    func start(in pool: TaskPool) async {
        self.pool = pool
        await refresh()
    }

    /// Starts a worker for every enabled endpoint and stops those of endpoints no longer enabled; does
    /// nothing unless started.
    func refresh() async {
        // The read suspends the actor: a later refresh may have applied a newer list meanwhile, or
        // stop() may have run; only the newest read is applied, and none after stop().
        refreshes += 1
        let generation = refreshes
        guard pool != nil, let enabled = try? await store.enabledWebhooks(), let pool, generation == refreshes else { return }
        let ids = Set(enabled.map(\.id))
        for (id, worker) in workers where !ids.contains(id) {
            worker.cancel()
            workers[id] = nil
        }
        for webhook in enabled where workers[webhook.id] == nil {
            let id = webhook.id
            let tenant = webhook.tenantID
            workers[id] = pool.startCancellable { await self.work(webhook: id, tenant: tenant) }
        }
    }

    /// Stops every worker; undelivered deliveries stay queued.
    func stop() async {
        pool = nil
        let running = Array(workers.values)
        workers = [:]
        for worker in running { worker.cancel() }
        for worker in running { await worker.wait() }
    }

    /// Queues a delivery of each event to each enabled endpoint of its tenant that subscribes to it.
    func enqueue(_ events: [Event]) async throws {
        var deliveries: [WebhookDelivery] = []
        for (tenant, tenantEvents) in Dictionary(grouping: events, by: \.tenantID) {
            let endpoints = try await store.webhooks(tenant: tenant).filter(\.isEnabled)
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

    /// Endpoints with a running worker, and how many of them have a breaker that is not closed.
    func breakerFigures() -> (endpoints: Int, breakersOpen: Int) {
        (workers.count, breakers.values.count { $0.state != .closed })
    }

    /// The circuit breaker of an endpoint with a running worker.
    func breaker(of webhook: String) -> CircuitBreaker? { breakers[webhook] }

    /// A delivery whose attempt is sent and recorded, with its outcome.
    private typealias Sent = (delivery: WebhookDelivery, outcome: WebhookSender.Outcome)

    /// What a worker does when it has nothing to send: sleep until a time, and optionally wake earlier
    /// when deliveries are queued.
    private struct Idle {
        var until: ContinuousClock.Instant?
        var wakesOnQueue = true
    }

    /// Keeps up to `max_in_flight` of the endpoint's deliveries in flight. Each attempt is recorded as it
    /// finishes (the store's group commit joins concurrent ones); the window is refilled once it is half
    /// empty, or at once when deliveries are queued while it has room.
    private func work(webhook id: String, tenant: String) async {
        breakers[id] = CircuitBreaker(threshold: configuration.breakerThreshold, cooldown: configuration.breakerCooldown)
        defer { breakers[id] = nil }
        let queued = queued
        await withTaskGroup(of: Sent?.self) { group in
            var inFlight: Set<String> = []
            var maxInFlight = 1
            var refills = true
            var waking = false
            var failingSince: ContinuousClock.Instant?
            while !Task.isCancelled {
                if refills || inFlight.count <= maxInFlight / 2 {
                    refills = false
                    let generation = queued.generation
                    guard let webhook = try? await store.webhook(id: id, tenant: tenant), webhook.isEnabled else { break }
                    maxInFlight = webhook.maxInFlight
                    switch await next(for: webhook, room: maxInFlight - inFlight.count, excluding: inFlight) {
                    case .send(let batch, let secrets):
                        for delivery in batch {
                            inFlight.insert(delivery.id)
                            group.addTask { await self.attempt(delivery, to: webhook, secrets: secrets) }
                        }
                    case .idle(let idle) where inFlight.isEmpty:
                        await wait(until: idle.until, orAfter: idle.wakesOnQueue ? generation : nil)
                        refills = true
                        continue
                    case .idle: break
                    }
                    if !waking {
                        waking = true
                        group.addTask {
                            await queued.wait(after: generation)
                            return nil
                        }
                    }
                }
                guard let next = await group.next() else { continue }
                guard let sent = next else {
                    waking = false
                    refills = true
                    continue
                }
                inFlight.remove(sent.delivery.id)
                if sent.outcome.isSuccess || !sent.outcome.isRetryable {
                    breakers[id]?.recordSuccess()
                    failingSince = nil
                } else {
                    breakers[id]?.recordFailure(at: .now)
                    failingSince = failingSince ?? .now
                }
                if let since = failingSince, ContinuousClock.now - since >= configuration.disableAfter {
                    await disable(webhook: id, tenant: tenant, last: sent.outcome.attempt)
                    break
                }
            }
            group.cancelAll()
        }
    }

    /// What a worker does next.
    private enum Next {
        /// Sends these deliveries, signed with these secrets.
        case send([WebhookDelivery], secrets: [String])
        case idle(Idle)
    }

    /// Up to `room` deliveries to send now, or how to idle.
    private func next(for webhook: Webhook, room: Int, excluding inFlight: Set<String>) async -> Next {
        guard room > 0 else { return .idle(Idle()) }
        let batch: [WebhookDelivery]
        if webhook.maxInFlight == 1 {
            // Ordered: the oldest pending delivery goes first, even when it waits for its retry time.
            batch = (try? await store.nextDelivery(webhook: webhook.id)).flatMap { $0 }.map { [$0] } ?? []
            if let next = batch.first?.nextAttemptAt, next > Date() {
                return .idle(Idle(until: Self.instant(of: next)))
            }
        } else {
            batch = (try? await store.dueDeliveries(webhook: webhook.id, now: Date(), limit: room, excluding: inFlight)) ?? []
        }
        guard !batch.isEmpty else {
            // With requests in flight the worker waits for them, not for a time.
            guard inFlight.isEmpty else { return .idle(Idle()) }
            let next = try? await store.nextDueDate(webhook: webhook.id)
            return .idle(Idle(until: next.map(Self.instant(of:))))
        }
        if let reopens = breakers[webhook.id]?.reopensAt, reopens > .now {
            return .idle(Idle(until: reopens, wakesOnQueue: false))
        }
        guard breakers[webhook.id]?.admits(at: .now) ?? true else { return .idle(Idle()) }
        guard let signing = try? await signingSecrets(webhook) else {
            logger.error("Webhook secret does not open; endpoint paused", metadata: ["sb.webhook": .string(webhook.id)])
            return .idle(Idle(until: .now + configuration.breakerCooldown, wakesOnQueue: false))
        }
        // A half-open breaker lets one probe through.
        let probing = breakers[webhook.id]?.state == .halfOpen
        return .send(probing ? Array(batch.prefix(1)) : batch, secrets: signing)
    }

    /// Sends one delivery within the server-wide bound and records the attempt.
    private nonisolated func attempt(_ delivery: WebhookDelivery, to webhook: Webhook, secrets: [String]) async -> Sent? {
        await slots.acquire()
        let outcome = await sender.send(delivery, to: webhook, secrets: secrets)
        slots.release()
        let result = result(of: outcome, attemptNumber: delivery.attemptCount + 1)
        attempts[result.name]?.increment()
        try? await store.recordAttempts([(delivery.id, outcome.attempt, result)])
        return (delivery, outcome)
    }

    /// Disables an endpoint whose attempts all failed for `disableAfter`, with an audit entry.
    private func disable(webhook id: String, tenant: String, last: WebhookAttempt) async {
        let reason = "every attempt failed for \(configuration.disableAfter); last: \(last.error ?? "HTTP \(last.statusCode ?? 0)")"
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
    }

    /// What an attempt means for its delivery: done, failed for good, dead, or retried after a
    /// full-jitter pause (at least the receiver's `Retry-After`).
    private nonisolated func result(of outcome: WebhookSender.Outcome, attemptNumber: Int) -> WebhookAttemptResult {
        if outcome.isSuccess { return .succeeded }
        guard outcome.isRetryable else { return .failed }
        guard attemptNumber <= configuration.retrySchedule.count else { return .dead }
        let cap = configuration.retrySchedule[attemptNumber - 1] / .milliseconds(1)
        var pause = Double.random(in: 0...max(cap, 0)) / 1_000
        if let retryAfter = outcome.retryAfter { pause = max(pause, retryAfter / .seconds(1)) }
        return .retry(at: Date().addingTimeInterval(pause))
    }

    private func signingSecrets(_ webhook: Webhook) async throws -> [String] {
        let stored = try await store.webhookSecrets(id: webhook.id, tenant: webhook.tenantID)
        let scope = Self.secretScope(tenant: webhook.tenantID, webhook: webhook.id)
        var signing = [try secrets.open(text: stored.current, scope: scope)]
        if let previous = stored.previous { signing.append(try secrets.open(text: previous, scope: scope)) }
        return signing
    }

    /// The monotonic instant of a stored wall-clock time (now, for a time already past).
    private static func instant(of date: Date) -> ContinuousClock.Instant {
        .now + .milliseconds(Int64(min(max(date.timeIntervalSinceNow, 0), 86_400 * 366) * 1_000))
    }

    /// The additional data that binds a sealed signing secret to its endpoint.
    nonisolated static func secretScope(tenant: String, webhook: String) -> String { "webhook/\(tenant)/\(webhook)" }

    /// Sleeps until `deadline`, or until deliveries are queued after `generation` when one is given.
    private func wait(until deadline: ContinuousClock.Instant?, orAfter generation: UInt64?) async {
        switch (deadline, generation) {
        case (let deadline?, let generation?): await queued.wait(after: generation, until: deadline, clock: .continuous)
        case (let deadline?, nil): try? await Task.sleep(until: deadline, clock: .continuous)
        case (nil, let generation?): await queued.wait(after: generation)
        case (nil, nil): return
        }
    }
}

extension WebhookAttemptResult {
    /// The `result` label of `sb_webhook_attempts_total`.
    fileprivate var name: String {
        switch self {
        case .succeeded: "succeeded"
        case .failed: "failed"
        case .retry: "retry"
        case .dead: "dead"
        }
    }
}
