import Foundation
import Synchronization

/// The kinds of records that grow without bound unless purged, and the maintenance service purges.
public enum RetainedRecords: String, CaseIterable, Sendable {
    /// Events of the log; only those every consumer and every enabled integration has read.
    case events
    case idempotencyKeys = "idempotency_keys"
    /// Webhook deliveries and their attempts; never one still pending.
    case webhookDeliveries = "webhook_deliveries"
    case auditEvents = "audit_events"
    /// Revoked access tokens past their expiry, which no longer need a revocation.
    case revokedTokens = "revoked_tokens"
    /// Events integrations set aside (`ParkedEvent`), by when they were parked.
    case parkedEvents = "parked_events"
}

/// How big the database is, for `/metrics`.
public struct DatabaseFigures: Sendable {
    /// The database's own size: the bytes of its pages in use or free.
    public var databaseBytes: Int64
    /// The write-ahead log's bytes, where the backend has one on disk.
    public var logBytes: Int64
    /// Rows by table.
    public var rows: [String: Int64]

    public init(databaseBytes: Int64, logBytes: Int64, rows: [String: Int64]) {
        self.databaseBytes = databaseBytes
        self.logBytes = logBytes
        self.rows = rows
    }
}

/// What a storage backend does besides serving the ports: purges, space, its schema, and closing.
public protocol StoreMaintenance: Sendable {
    /// Deletes at most `limit` records of a kind older than `cutoff` (the oldest first), in one short
    /// transaction; returns how many.
    func purge(_ records: RetainedRecords, olderThan cutoff: Date, limit: Int) async throws -> Int
    /// Gives the space of deleted rows back to the file system; returns the bytes given back.
    func reclaimSpace() async throws -> Int64
    /// The database's size and row counts.
    func figures() async throws -> DatabaseFigures
    /// Why writes fail now (the disk is full, say), or nil when they do not.
    var writeProblem: SwitchboardError? { get }
    /// The schema version the database is at.
    var schemaVersion: Int { get }
    /// Reports the database's own work (commit times, failures) to `observer` from now on.
    func observe(with observer: any StoreObserver)
    /// Finishes queued writes and closes every connection.
    func close()
}

/// What a storage backend reports of its own work, for `/metrics`.
public protocol StoreObserver: Sendable {
    /// A write transaction (one group commit) ended after `duration`, committed or not.
    func transactionEnded(after duration: Duration, committed: Bool)
    /// A read or a write failed in the database itself; a command refused by the core's rules is not
    /// such a failure.
    func databaseFailed(_ operation: StoreOperation)
}

/// The kind of database work that failed.
public enum StoreOperation: String, Sendable, CaseIterable {
    case read
    case write
}

/// The observer a backend reports to, set once the application's metrics exist (after the store
/// opened); reports before that go nowhere.
/// - Important: Thread-safe: the observer lives behind a mutex.
public final class StoreObserverSlot: StoreObserver {
    private let observer = Mutex<(any StoreObserver)?>(nil)

    public init() {}

    public func set(_ observer: any StoreObserver) {
        self.observer.withLock { $0 = observer }
    }

    public func transactionEnded(after duration: Duration, committed: Bool) {
        observer.withLock { $0 }?.transactionEnded(after: duration, committed: committed)
    }

    public func databaseFailed(_ operation: StoreOperation) {
        observer.withLock { $0 }?.databaseFailed(operation)
    }
}

extension StoreMaintenance {
    /// Deletes every record of a kind older than `cutoff`, `batch` at a time, each batch its own
    /// transaction, so writers wait at most one batch; returns how many.
    @discardableResult
    public func purgeAll(_ records: RetainedRecords, olderThan cutoff: Date, batch: Int = 1_000) async throws -> Int {
        var total = 0
        while true {
            let purged = try await purge(records, olderThan: cutoff, limit: batch)
            total += purged
            if purged < batch { return total }
        }
    }
}

/// The storage boundary: every port the server, its services and the CLI use. A backend implements
/// all of it; outside the backends' modules, only the factory that opens the configured one names a
/// concrete store.
public typealias SwitchboardStorage = AuditLog & ChatStore & Cluster & EventLog & IntegrationStore & OAuthStore & SignatureKeyStore & StatisticsStore
    & StoreMaintenance & TenantDirectory & TokenIssuerStore & WebhookStore

/// The database settings of the `[database]` section.
public struct DatabaseSettings: Sendable {
    /// A PostgreSQL database (`postgres://user:password@host:port/db?sslmode=verify-full`), used
    /// instead of the SQLite file when set.
    public var url: String?
    /// The most connections to PostgreSQL: the writer's one and the readers'.
    public var poolSize: Int
    /// How long one PostgreSQL statement, or a connection attempt, may take before it fails.
    public var statementTimeout: Duration
    /// The SQLite file; created with its folder when missing.
    public var path: String
    /// How durable a commit is before it is acknowledged.
    public var synchronous: Synchronous
    /// The most write jobs one group commit takes.
    public var maxBatch: Int
    /// How many idle read connections stay open.
    public var readers: Int

    /// The durability level of a commit.
    public struct Synchronous: Hashable, Sendable {
        /// `full` or `normal`.
        public let name: String
        /// Durable against power loss: fsync at every commit.
        public static let full = Synchronous(name: "full", checked: ())
        /// Durable against a crash of the process; a power loss may lose the last commits.
        public static let normal = Synchronous(name: "normal", checked: ())

        /// The level named `name` (`full` or `normal`, any case), or nil.
        public init?(name: String) {
            switch name.lowercased() {
            case "full": self = .full
            case "normal": self = .normal
            default: return nil
            }
        }

        private init(name: String, checked: Void) { self.name = name }
    }

    /// Creates settings.
    public init(
        path: String = "data/switchboard.sqlite",
        synchronous: Synchronous = .full,
        maxBatch: Int = 512,
        readers: Int = 8,
        url: String? = nil,
        poolSize: Int = 10,
        statementTimeout: Duration = .seconds(5)
    ) {
        self.url = url
        self.poolSize = poolSize
        self.statementTimeout = statementTimeout
        self.path = path
        self.synchronous = synchronous
        self.maxBatch = maxBatch
        self.readers = readers
    }
}
