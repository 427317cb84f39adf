import Logging
import ServiceLifecycle
import SwitchboardCore

/// The event-log consumer that keeps the hourly statistics: it rolls up each batch, commits the cells,
/// the conversations' facts and its cursor in one transaction (so a batch counts exactly once, whatever
/// crashes), then updates the in-memory index.
package struct StatisticsAggregator: Service {
    let log: any EventLog
    let store: any StatisticsStore
    let index: StatisticsIndex
    let batchSize: Int
    let logger: Logger

    package init(log: any EventLog, store: any StatisticsStore, index: StatisticsIndex, batchSize: Int, logger: Logger) {
        self.log = log
        self.store = store
        self.index = index
        self.batchSize = batchSize
        self.logger = logger
    }

    package func run() async throws {
        let consumer = EventLogConsumer(
            name: StatisticsIndex.consumer,
            log: log,
            batchSize: batchSize,
            cursorSaving: .byHandler,
            linger: EventLogConsumer.backgroundLinger,
            logger: logger
        ) { events in
            try await ingest(events)
        }
        index.fed(true)
        defer { index.fed(false) }
        try await consumer.run()
    }

    /// Rolls up one batch of events in log order and commits it.
    /// - Throws: `EventLogConsumer.CursorMoved` when the stored cursor is past the batch's start: the
    ///   consumer reads on from the stored cursor, so no event is counted twice or left out.
    package func ingest(_ events: [Event]) async throws {
        guard let first = events.first, let last = events.last else { return }
        let keys = Set(events.compactMap(ConversationRollup.conversation(of:)))
        var rollup = await ConversationRollup(facts: try store.conversationFacts(keys))
        for event in events { rollup.apply(event) }
        guard try await store.applyRollup(rollup, consumer: StatisticsIndex.consumer, positions: first.position...last.position) else {
            throw EventLogConsumer.CursorMoved()
        }
        index.apply(rollup, position: last.position)
    }
}
