import Foundation
import Logging
import Metrics
import SwitchboardCore

/// Feeds one instance its tenant's events, in order, from the integration's persisted cursor.
///
/// The cursor moves past an event once the plugin acknowledged it (or did not subscribe to its type),
/// and is saved after each batch and when delivery stops: after a crash an event may come again, but
/// none is skipped. A failing event is retried with exponential backoff; after
/// `maxEventAttempts` failed attempts (an error status, a crash of the child, a timeout) it is parked
/// (`IntegrationStore.parkEvent`) and delivery goes on with the next, so one poisoned event never
/// stalls the rest. While the instance's event breaker is open, delivery waits for the probe time
/// instead of calling the plugin; calls have a breaker of their own.
struct EventDelivery: Sendable {
    let tenant: String
    let plugin: String
    let manifest: PluginManifest
    let instance: any PluginRunner
    let breaker: BreakerBox
    let log: any EventLog
    let store: any IntegrationStore
    let configuration: IntegrationManager.Configuration
    let metrics: (any MetricsFactory)?
    let logger: Logger

    /// Runs until the task is cancelled.
    func run(from start: Int64) async {
        var cursor = start
        var saved = start
        while !Task.isCancelled {
            let generation = log.commits.generation
            let batch: [Event]
            do {
                batch = try await log.events(tenant: tenant, after: cursor, limit: 256)
            } catch {
                try? await Task.sleep(for: configuration.retryBase)
                continue
            }
            guard let last = batch.last else {
                await reportLag(cursor: cursor)
                await log.commits.wait(after: generation)
                continue
            }
            let wanted = batch.filter { manifest.wants($0.type) }
            let delivered = await deliver(wanted)
            // Every event before the first undelivered one is done, whether the plugin wanted it or not.
            cursor = delivered < wanted.count ? wanted[delivered].seq - 1 : last.seq
            if cursor > saved, (try? await store.saveIntegrationCursor(tenant: tenant, plugin: plugin, seq: cursor)) != nil {
                saved = cursor
            }
            await reportLag(cursor: cursor)
        }
        if cursor > saved {
            try? await store.saveIntegrationCursor(tenant: tenant, plugin: plugin, seq: cursor)
        }
    }

    /// Delivers `events` in order until each is acknowledged or parked, retrying from the first failure
    /// with backoff.
    /// - Returns: how many were done; fewer than all only when the task was cancelled.
    private func deliver(_ events: [Event]) async -> Int {
        let envelopes = events.map { (try? SwitchboardJSON.encode($0)) ?? [] }
        var delivered = 0
        var failures = 0
        while delivered < events.count, !Task.isCancelled {
            if let reopens = breaker.snapshot.reopensAt, reopens > .now {
                try? await Task.sleep(until: reopens, clock: .continuous)
                continue
            }
            _ = breaker.admits()
            let outcomes = await instance.deliver(events: Array(envelopes[delivered...]))
            // Only the acknowledged events before the first failure count, and never more than were
            // sent: a child's progress frames are outside input.
            var failure = CallOutcome(status: .internal, body: [])
            for outcome in outcomes.prefix(events.count - delivered) {
                guard outcome.status.acknowledgesEvent else {
                    failure = outcome
                    break
                }
                if outcome.status == .invalid {
                    let event = events[delivered]
                    logger.warning("Plugin refused an event; skipped", metadata: ["sb.seq": "\(event.seq)", "sb.event": .string(event.type.name)])
                }
                delivered += 1
                failures = 0
            }
            guard delivered < events.count else {
                breaker.record(.ok)
                break
            }
            breaker.record(failure.status)
            failures += 1
            let event = events[delivered]
            guard failures < configuration.maxEventAttempts else {
                if await park(event, after: failure, attempts: failures) {
                    delivered += 1
                    failures = 0
                } else {
                    try? await Task.sleep(for: backoff(after: failures))
                }
                continue
            }
            logger.warning(
                "Plugin event delivery failed; retrying",
                metadata: ["sb.seq": "\(event.seq)", "sb.event": .string(event.type.name), "sb.status": .string(failure.status.name), "sb.attempt": "\(failures)"]
            )
            try? await Task.sleep(for: backoff(after: failures))
        }
        return delivered
    }

    /// Sets `event` aside; false when the store could not take it (delivery then retries it).
    private func park(_ event: Event, after failure: CallOutcome, attempts: Int) async -> Bool {
        let error = String(failure.failureDescription.prefix(ParkedEvent.maxErrorLength))
        let parked = ParkedEvent(
            tenantID: tenant, pluginID: plugin, seq: event.seq, type: event.type.name, error: error, attempts: attempts, parkedAt: Date()
        )
        do {
            try await store.parkEvent(parked)
        } catch {
            return false
        }
        logger.error(
            "Plugin event parked after repeated failures; later events go on",
            metadata: ["sb.seq": "\(event.seq)", "sb.event": .string(event.type.name), "sb.attempts": "\(attempts)", "sb.error": .string(parked.error)]
        )
        if let metrics { Counter(label: "sb_plugin_events_parked_total", dimensions: [("plugin", plugin)], factory: metrics).increment() }
        return true
    }

    /// How far the instance is behind its tenant's log, as a gauge.
    private func reportLag(cursor: Int64) async {
        guard let metrics, let head = try? await log.lastSeq(tenant: tenant) else { return }
        Gauge(label: "sb_plugin_lag_events", dimensions: [("plugin", plugin), ("tenant", tenant)], factory: metrics).record(Double(max(0, head - cursor)))
    }

    /// The pause after the `failures`-th failure in a row: doubling from `retryBase`, capped at `retryMax`.
    func backoff(after failures: Int) -> Duration {
        let factor = 1 << min(failures - 1, 20)
        return min(configuration.retryBase * factor, configuration.retryMax)
    }
}
