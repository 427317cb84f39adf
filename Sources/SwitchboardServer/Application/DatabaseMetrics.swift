import CoreMetrics
import SwitchboardCore

/// Counts what the store reports of its own work: `sb_database_commit_seconds` (a histogram of group
/// commit times, `committed` false for a transaction rolled back) and
/// `sb_database_errors_total{operation}` (reads and writes that failed in the database).
struct DatabaseMetrics: StoreObserver {
    private let commits: [Bool: Timer]
    private let errors: [StoreOperation: Counter]

    init(factory: any MetricsFactory) {
        commits = Dictionary(uniqueKeysWithValues: [true, false].map { committed in
            (committed, Timer(label: "sb_database_commit_seconds", dimensions: [("committed", String(committed))], preferredDisplayUnit: .seconds, factory: factory))
        })
        errors = Dictionary(uniqueKeysWithValues: StoreOperation.allCases.map { operation in
            (operation, Counter(label: "sb_database_errors_total", dimensions: [("operation", operation.rawValue)], factory: factory))
        })
    }

    func transactionEnded(after duration: Duration, committed: Bool) {
        commits[committed]?.record(duration)
    }

    func databaseFailed(_ operation: StoreOperation) {
        errors[operation]?.increment()
    }
}
