import Foundation
import Logging
import ServiceLifecycle
import SwitchboardCore

/// Periodic housekeeping: forgets idempotency keys past their retention and events past theirs (once
/// every consumer has read them).
struct MaintenanceService: Service {
    let store: any SwitchboardStorage
    let idempotencyRetention: Duration
    /// How long events are kept; nil keeps them forever.
    let eventRetention: Duration?
    let logger: Logger
    var interval: Duration = .seconds(3_600)
    var clock: any Clock<Duration> = ContinuousClock()

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let seconds = Double(idempotencyRetention.components.seconds)
                    let purged = try await store.purgeIdempotencyKeys(olderThan: Date().addingTimeInterval(-seconds))
                    logger.debug("Purged idempotency keys", metadata: ["sb.count": "\(purged)"])
                    if let eventRetention {
                        let events = try await store.purgeEvents(olderThan: Date().addingTimeInterval(-(eventRetention / .seconds(1))))
                        logger.debug("Purged events", metadata: ["sb.count": "\(events)"])
                    }
                    try await clock.sleep(for: interval, tolerance: nil)
                } catch is CancellationError {
                    return
                } catch {
                    logger.warning("Maintenance failed", metadata: ["sb.error": "\(error)"])
                    try? await clock.sleep(for: interval, tolerance: nil)
                }
            }
        }
    }
}
