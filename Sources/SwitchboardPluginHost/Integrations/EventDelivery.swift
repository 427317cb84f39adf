import Logging
import SwitchboardCore

/// Feeds one instance its tenant's events, in order, from the integration's persisted cursor.
///
/// The cursor moves past an event once the plugin acknowledged it (or did not subscribe to its type),
/// and is saved after each batch and when delivery stops: after a crash an event may come again, but
/// none is skipped. A failing event is retried with exponential backoff; while the instance's breaker
/// is open, delivery waits for the probe time instead of calling the plugin.
struct EventDelivery: Sendable {
    let tenant: String
    let plugin: String
    let manifest: PluginManifest
    let instance: any PluginRunner
    let breaker: BreakerBox
    let log: any EventLog
    let store: any IntegrationStore
    let configuration: IntegrationManager.Configuration
    let logger: Logger

    /// Runs until the task is cancelled.
    func run(from start: Int64) async {
        var cursor = start
        var saved = start
        while !Task.isCancelled {
            let generation = log.commits.generation
            let batch: [Event]
            do {
                batch = try log.events(tenant: tenant, after: cursor, limit: 256)
            } catch {
                try? await Task.sleep(for: configuration.retryBase)
                continue
            }
            guard let last = batch.last else {
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
        }
        if cursor > saved {
            try? await store.saveIntegrationCursor(tenant: tenant, plugin: plugin, seq: cursor)
        }
    }

    /// Delivers `events` in order until each is acknowledged, retrying from the first failure with backoff.
    /// - Returns: how many were delivered; fewer than all only when the task was cancelled.
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
            for outcome in outcomes where outcome.status.acknowledgesEvent {
                if outcome.status == .invalid {
                    let event = events[delivered]
                    logger.warning("Plugin refused an event; skipped", metadata: ["sb.seq": "\(event.seq)", "sb.event": .string(event.type.name)])
                }
                delivered += 1
            }
            guard delivered < events.count else {
                breaker.record(.ok)
                break
            }
            let failure = outcomes.last { !$0.status.acknowledgesEvent }?.status ?? .internal
            breaker.record(failure)
            failures += 1
            logger.debug(
                "Plugin event delivery failed; retrying",
                metadata: ["sb.seq": "\(events[delivered].seq)", "sb.status": .string(failure.name), "sb.attempt": "\(failures)"]
            )
            try? await Task.sleep(for: backoff(after: failures))
        }
        return delivered
    }

    /// The pause after the `failures`-th failure in a row: doubling from `retryBase`, capped at `retryMax`.
    func backoff(after failures: Int) -> Duration {
        let factor = 1 << min(failures - 1, 20)
        return min(configuration.retryBase * factor, configuration.retryMax)
    }
}
