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
            if batch.isEmpty {
                await log.commits.wait(after: generation)
                continue
            }
            for event in batch {
                if manifest.wants(event.type) {
                    guard await deliver(event) else { break }
                }
                cursor = event.seq
            }
            if cursor > saved, (try? await store.saveIntegrationCursor(tenant: tenant, plugin: plugin, seq: cursor)) != nil {
                saved = cursor
            }
        }
        if cursor > saved {
            try? await store.saveIntegrationCursor(tenant: tenant, plugin: plugin, seq: cursor)
        }
    }

    /// Delivers one event until the plugin acknowledges it.
    /// - Returns: false when the task was cancelled first.
    private func deliver(_ event: Event) async -> Bool {
        guard let envelope = try? SwitchboardJSON.encode(event) else { return true }
        var failures = 0
        while !Task.isCancelled {
            if let reopens = breaker.snapshot.reopensAt, reopens > .now {
                try? await Task.sleep(until: reopens, clock: .continuous)
                continue
            }
            _ = breaker.admits()
            let outcome = await instance.deliver(event: envelope)
            breaker.record(outcome.status)
            switch outcome.status {
            case .ok, .unsupported:
                return true
            case .invalid:
                logger.warning("Plugin refused an event; skipped", metadata: ["sb.seq": "\(event.seq)", "sb.event": .string(event.type.name)])
                return true
            default:
                failures += 1
                logger.debug(
                    "Plugin event delivery failed; retrying",
                    metadata: ["sb.seq": "\(event.seq)", "sb.status": .string(outcome.status.name), "sb.attempt": "\(failures)"]
                )
                try? await Task.sleep(for: backoff(after: failures))
            }
        }
        return false
    }

    /// The pause after the `failures`-th failure in a row: doubling from `retryBase`, capped at `retryMax`.
    func backoff(after failures: Int) -> Duration {
        let factor = 1 << min(failures - 1, 20)
        return min(configuration.retryBase * factor, configuration.retryMax)
    }
}
