import Foundation

/// What a storage backend does besides serving the ports: scheduled purges, its schema, and closing.
public protocol StoreMaintenance: Sendable {
    /// Deletes events older than `cutoff`, in bounded batches; returns how many.
    func purgeEvents(olderThan cutoff: Date) async throws -> Int
    /// Deletes idempotency keys older than `cutoff`; returns how many.
    func purgeIdempotencyKeys(olderThan cutoff: Date) async throws -> Int
    /// The schema version the database is at.
    var schemaVersion: Int { get }
    /// Finishes queued writes and closes every connection.
    func close()
}

/// The storage boundary: every port the server, its services and the CLI use. A backend implements
/// all of it; outside the backends' modules, only the factory that opens the configured one names a
/// concrete store.
public typealias SwitchboardStorage = AuditLog & ChatStore & EventLog & IntegrationStore & OAuthStore & SignatureKeyStore & StatisticsStore
    & StoreMaintenance & TenantDirectory & TokenIssuerStore & WebhookStore

/// The database settings of the `[database]` section.
public struct DatabaseSettings: Sendable {
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
    public init(path: String = "data/switchboard.sqlite", synchronous: Synchronous = .full, maxBatch: Int = 512, readers: Int = 8) {
        self.path = path
        self.synchronous = synchronous
        self.maxBatch = maxBatch
        self.readers = readers
    }
}
