import Logging
import ServiceLifecycle
import SwitchboardCore

/// Feeds the event log to one named consumer, in commit order, from its persisted cursor.
///
/// The consumer wakes on every commit, hands each batch to `handle`, and saves its cursor after the
/// batch succeeded: delivery is at least once across crashes. A failing batch is retried after
/// `retryDelay` and never skipped. The WebSocket hub, webhook dispatcher, plugin dispatcher and
/// statistics aggregator each run one.
public struct EventLogConsumer: Service {
    /// The name under which the cursor is persisted; unique per consumer.
    public let name: String
    let log: any EventLog
    let batchSize: Int
    let retryDelay: Duration
    let clock: any Clock<Duration>
    let logger: Logger
    let handle: @Sendable ([Event]) async throws -> Void

    /// Creates a consumer.
    /// - Parameters:
    ///   - name: the cursor's name.
    ///   - log: the event log to read.
    ///   - batchSize: the most events handed over at once.
    ///   - retryDelay: the pause before a failed batch is handed over again.
    ///   - clock: the clock of that pause.
    ///   - handle: called with each batch, from one task at a time.
    public init(
        name: String,
        log: any EventLog,
        batchSize: Int = 256,
        retryDelay: Duration = .seconds(1),
        clock: any Clock<Duration> = ContinuousClock(),
        logger: Logger,
        handle: @escaping @Sendable ([Event]) async throws -> Void
    ) {
        self.name = name
        self.log = log
        self.batchSize = batchSize
        self.retryDelay = retryDelay
        self.clock = clock
        self.logger = logger
        self.handle = handle
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            do {
                try await consume()
            } catch is CancellationError {
                return
            } catch {
                logger.error("Event consumer stopped", metadata: ["sb.consumer": "\(name)", "sb.error": "\(error)"])
            }
        }
    }

    private func consume() async throws {
        var cursor = try log.cursor(consumer: name)
        while !Task.isCancelled {
            let generation = log.commits.generation
            let batch = try log.events(afterPosition: cursor, limit: batchSize)
            guard let last = batch.last else {
                await log.commits.wait(after: generation)
                continue
            }
            do {
                try await handle(batch)
                try await log.saveCursor(consumer: name, position: last.position)
                cursor = last.position
            } catch is CancellationError {
                return
            } catch {
                logger.warning("Event batch failed; retrying", metadata: ["sb.consumer": "\(name)", "sb.error": "\(error)"])
                try await clock.sleep(for: retryDelay, tolerance: nil)
            }
        }
    }
}
