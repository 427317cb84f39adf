import Logging
import ServiceLifecycle
import SwitchboardCore

/// Feeds the event log to one named consumer, in commit order, from its persisted cursor.
///
/// The consumer wakes on every commit that appended events, hands each batch to `handle`, and saves
/// its cursor after the batch succeeded, as `cursorSaving` says: delivery is at least once across
/// crashes. A failing batch is retried after `retryDelay` and never skipped. The webhook queue, the
/// CRM lookups and the statistics aggregator each run one.
public struct EventLogConsumer: Service {
    /// When a consumer persists its cursor.
    public struct CursorSaving: Sendable {
        let interval: Duration?
        let isHandlers: Bool

        /// After every batch: one write per batch, and a crash redelivers nothing that was handled.
        public static let afterEachBatch = CursorSaving(interval: nil, isHandlers: false)
        /// At most once per `interval` while events flow, and once the log was quiet for it; also when
        /// the consumer stops. A crash redelivers the events of at most the last interval, so the
        /// handler's effects must be idempotent. Saves the write per batch that a busy log would cost.
        public static func atMostEvery(_ interval: Duration) -> CursorSaving { CursorSaving(interval: interval, isHandlers: false) }
        /// The handler commits the position itself, with its own writes (exactly once).
        public static let byHandler = CursorSaving(interval: nil, isHandlers: true)
    }

    /// How long a background consumer waits after a commit woke it, unless a full batch is waiting
    /// sooner: the realtime fan-out of that commit goes first, and a trickle of commits is read as one
    /// batch (four reads a second at most), while a busy log is read a batch at a time as it fills.
    public static let backgroundLinger = Duration.milliseconds(250)

    /// The name under which the cursor is persisted; unique per consumer.
    public let name: String
    let log: any EventLog
    let batchSize: Int
    let cursorSaving: CursorSaving
    let linger: Duration
    let retryDelay: Duration
    let clock: any Clock<Duration>
    let logger: Logger
    let handle: @Sendable ([Event]) async throws -> Void

    /// Creates a consumer.
    /// - Parameters:
    ///   - name: the cursor's name.
    ///   - log: the event log to read.
    ///   - batchSize: the most events handed over at once.
    ///   - cursorSaving: when the cursor is persisted.
    ///   - linger: how long to wait after a commit woke the consumer before reading, unless
    ///     `batchSize` events are waiting sooner.
    ///   - retryDelay: the pause before a failed batch is handed over again.
    ///   - clock: the clock of that pause.
    ///   - handle: called with each batch, from one task at a time.
    public init(
        name: String,
        log: any EventLog,
        batchSize: Int = 256,
        cursorSaving: CursorSaving = .afterEachBatch,
        linger: Duration = .zero,
        retryDelay: Duration = .seconds(1),
        clock: any Clock<Duration> = ContinuousClock(),
        logger: Logger,
        handle: @escaping @Sendable ([Event]) async throws -> Void
    ) {
        self.name = name
        self.log = log
        self.batchSize = batchSize
        self.cursorSaving = cursorSaving
        self.linger = linger
        self.retryDelay = retryDelay
        self.clock = clock
        self.logger = logger
        self.handle = handle
    }

    /// Thrown by a handler that commits the cursor itself (`byHandler`) when the stored cursor is not
    /// where the batch began (another server's consumer moved it, or a crash left it past): the
    /// consumer reads on from the stored cursor.
    public struct CursorMoved: Error {
        public init() {}
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            // The database may go away for a while (PostgreSQL restarting): start over from the persisted
            // cursor once it answers again, never end the service (which would stop the server).
            while !Task.isCancelled {
                do {
                    try await consume(clock: clock)
                    return
                } catch is CancellationError {
                    return
                } catch is CursorMoved {
                    logger.info("Event consumer's cursor moved elsewhere; reading on from it", metadata: ["sb.consumer": "\(name)"])
                } catch {
                    logger.warning("Event consumer cannot read; retrying", metadata: ["sb.consumer": "\(name)", "sb.error": "\(error)"])
                    do { try await clock.sleep(for: retryDelay, tolerance: nil) } catch { return }
                }
            }
        }
    }

    private func consume<C: Clock<Duration>>(clock: C) async throws {
        var cursor = try await log.cursor(consumer: name)
        var saved = cursor
        var lastSave = clock.now
        func save() async throws {
            guard !cursorSaving.isHandlers, saved != cursor else { return }
            try await log.saveCursor(consumer: name, position: cursor)
            saved = cursor
            lastSave = clock.now
        }
        while !Task.isCancelled {
            let generation = log.commits.generation
            let batch: [Event]
            do {
                batch = try await log.events(afterPosition: cursor, limit: batchSize)
            } catch is CancellationError {
                // Stopping while a read waits (a PostgreSQL read runs on another thread): save below.
                break
            }
            guard let last = batch.last else {
                var isSaveDue = false
                if let interval = cursorSaving.interval, saved != cursor {
                    // Quiet with an unsaved cursor: save it once it is due, unless events come first.
                    isSaveDue = !(await log.commits.wait(after: generation, until: lastSave.advanced(by: interval), clock: clock))
                } else {
                    await log.commits.wait(after: generation)
                }
                if isSaveDue {
                    try await save()
                } else if linger > .zero {
                    // Every event up to `generation` was read: a full batch waits at this generation.
                    await log.commits.wait(reaching: generation &+ UInt64(batchSize), until: clock.now.advanced(by: linger), clock: clock)
                }
                continue
            }
            do {
                try await handle(batch)
                cursor = last.position
                if let interval = cursorSaving.interval {
                    if lastSave.duration(to: clock.now) >= interval { try await save() }
                } else {
                    try await save()
                }
            } catch is CancellationError {
                break
            } catch let moved as CursorMoved {
                throw moved
            } catch {
                logger.warning("Event batch failed; retrying", metadata: ["sb.consumer": "\(name)", "sb.error": "\(error)"])
                try await clock.sleep(for: retryDelay, tolerance: nil)
            }
        }
        try await save()
    }
}
