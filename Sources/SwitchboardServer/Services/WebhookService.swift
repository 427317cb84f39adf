import Logging
import ServiceLifecycle
import SwitchboardCore

/// Runs webhook delivery: the event-log consumer that queues deliveries and the dispatcher's workers.
/// On graceful shutdown both stop; whatever is undelivered stays queued. In a cluster it runs on the
/// server holding the webhooks' lease, which picks up endpoints changed and deliveries queued (a
/// replay) through other servers within `pickUpInterval`.
struct WebhookService: Service {
    static let pickUpInterval = Duration.seconds(2)

    let store: any SwitchboardStorage
    let dispatcher: WebhookDispatcher
    let logger: Logger

    func run() async throws {
        // The endpoints' workers run in this pool, which ends with this service.
        let workers = TaskPool()
        await dispatcher.start(in: workers)
        let dispatcher = dispatcher
        // Queuing is idempotent (one live delivery per endpoint and event), so the cursor is saved lazily.
        let consumer = EventLogConsumer(
            name: "webhooks",
            log: store,
            cursorSaving: .atMostEvery(.seconds(1)),
            linger: EventLogConsumer.backgroundLinger,
            logger: logger
        ) { events in
            try await dispatcher.enqueue(events)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await workers.run() }
            group.addTask { try await consumer.run() }
            // Alone on its database (SQLite), every change goes through this server, which refreshes as it makes it.
            if store.isShared {
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: Self.pickUpInterval)
                        await dispatcher.refresh()
                        dispatcher.queued.notify()
                    }
                }
            }
            // The workers stop (and forget their endpoints) however the consumer ended, before the pool ends.
            do {
                try await group.next()
            } catch {
                await dispatcher.stop()
                throw error
            }
            await dispatcher.stop()
            group.cancelAll()
        }
    }
}
