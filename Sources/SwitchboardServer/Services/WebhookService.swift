import Logging
import ServiceLifecycle
import SwitchboardCore

/// Runs webhook delivery for the server's lifetime: the event-log consumer that queues deliveries and the
/// dispatcher's workers. On graceful shutdown both stop; whatever is undelivered stays queued.
struct WebhookService: Service {
    let store: any SwitchboardStorage
    let dispatcher: WebhookDispatcher
    let logger: Logger

    func run() async throws {
        await dispatcher.refresh()
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
        try await consumer.run()
        await dispatcher.stop()
    }
}
