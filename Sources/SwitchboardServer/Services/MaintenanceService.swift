import Foundation
import Logging
import ServiceLifecycle
import SwitchboardStore

/// Periodic housekeeping: forgets idempotency keys past their retention.
struct MaintenanceService: Service {
    let store: SQLiteStore
    let idempotencyRetention: Duration
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
