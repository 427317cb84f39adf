import Foundation
import Logging
import ServiceLifecycle
import SwitchboardCore

/// Periodic housekeeping: every kind of record that grows is purged past its retention, in batches of
/// `batchSize` rows each in its own transaction (writers wait at most one batch), then the space is
/// given back to the file system.
struct MaintenanceService: Service {
    let store: any SwitchboardStorage
    /// How long each kind of record is kept; a kind without an entry is kept forever.
    let retention: [RetainedRecords: Duration]
    let logger: Logger
    var interval: Duration = .seconds(3_600)
    var batchSize = 1_000
    var clock: any Clock<Duration> = ContinuousClock()
    /// The present, for the cutoffs.
    var now: @Sendable () -> Date = { Date() }

    /// The retentions of `configuration`: idempotency keys and revoked tokens always (a revocation is
    /// kept 5 minutes past its token's expiry, beyond the clock skew tokens are accepted with), the rest unless 0.
    static func retention(of configuration: SwitchboardConfiguration) -> [RetainedRecords: Duration] {
        var retention = retention(of: configuration.api)
        if configuration.plugins.parkedEventRetentionDays > 0 { retention[.parkedEvents] = .seconds(configuration.plugins.parkedEventRetentionDays * 86_400) }
        return retention
    }

    /// The retentions of the `[api]` section.
    static func retention(of configuration: SwitchboardConfiguration.API) -> [RetainedRecords: Duration] {
        var retention: [RetainedRecords: Duration] = [.idempotencyKeys: .seconds(configuration.idempotencyRetentionHours * 3_600), .revokedTokens: .seconds(300)]
        let days: [(RetainedRecords, Int)] = [
            (.events, configuration.eventRetentionDays), (.webhookDeliveries, configuration.webhookDeliveryRetentionDays),
            (.auditEvents, configuration.auditRetentionDays),
        ]
        for (records, count) in days where count > 0 { retention[records] = .seconds(count * 86_400) }
        return retention
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await pass()
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

    /// One round: every purge, then the space given back.
    func pass() async throws {
        let now = now()
        for records in RetainedRecords.allCases {
            guard let kept = retention[records] else { continue }
            let purged = try await store.purgeAll(records, olderThan: now.addingTimeInterval(-(kept / .seconds(1))), batch: batchSize)
            if purged > 0 { logger.debug("Purged", metadata: ["sb.records": "\(records.rawValue)", "sb.count": "\(purged)"]) }
        }
        let freed = try await store.reclaimSpace()
        if freed > 0 { logger.debug("Gave space back", metadata: ["sb.bytes": "\(freed)"]) }
    }
}
