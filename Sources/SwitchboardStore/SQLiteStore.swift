import Foundation
import CSQLite
import Logging
import SwitchboardCore
import Synchronization

/// The embedded store: one SQLite database file in WAL mode holding every tenant's data and event log.
///
/// Writes go through one writer thread that commits in groups; reads use a pool of read-only
/// connections and run on the caller's thread.
/// - Important: Thread-safe. Call `close()` once, after the last request finished.
public final class SQLiteStore: StoreMaintenance {
    /// How the store opens its database.
    public typealias Configuration = DatabaseSettings

    let writer: SQLiteWriter
    let checkpointer: SQLiteCheckpointer
    let readers: SQLiteReaderPool
    let ids: TimeOrderedIDGenerator
    let logger: Logger
    /// The database file.
    let path: String
    /// Held shared while the store is open, so a restore cannot replace the database under it.
    let lock: SQLiteDatabaseLock
    /// Whether the last write failed for a full disk; cleared by the next write that succeeds.
    let storageFull = Mutex(false)
    /// Signalled after every group commit that appended events.
    public let commits: CommitSignal
    /// The newest committed events, for the log's readers.
    let recentEvents: RecentEvents
    /// Where commit times and database failures are reported.
    let observer = StoreObserverSlot()
    /// Agents read recently by id.
    let agentCache = RecordCache<Agent>()
    /// Conversations read recently by id.
    let conversationCache = RecordCache<Conversation>()

    /// Creates the database's folder (0700) and file (0600) when they do not exist, and takes group and
    /// other permissions off an existing database and its WAL and shared-memory files. SQLite gives a
    /// new WAL the database file's mode, so those stay private too.
    static func makePrivate(path: String) throws {
        let manager = FileManager.default
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        if !manager.fileExists(atPath: directory) {
            try manager.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        if !manager.fileExists(atPath: path) {
            guard manager.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw SQLiteError(code: SQLITE_CANTOPEN, message: "cannot create the database file \(path)")
            }
        }
        for file in [path, path + "-wal", path + "-shm"] where manager.fileExists(atPath: file) {
            try manager.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        }
    }

    /// Opens the database, creating it and running migrations as needed.
    /// - Throws: `SQLiteError` when the file cannot be opened or migrated.
    public init(configuration: Configuration, logger: Logger, ids: TimeOrderedIDGenerator = .shared) throws {
        try Self.makePrivate(path: configuration.path)
        let lock = try SQLiteDatabaseLock(database: configuration.path, exclusive: false)
        let writeConnection = try SQLiteConnection(path: configuration.path, isReadOnly: false, synchronous: configuration.synchronous.name.uppercased())
        // A database of a newer schema is refused before anything, the vacuum below included, writes to it.
        _ = try Migrations.checkVersion(on: writeConnection)
        // Deleted rows' pages go back to the file system by `reclaimSpace()`. A new database gets that
        // setting at once; an older one is rebuilt once to have it, and when that cannot be done now (no
        // room, another process writing) it is served as it is and tried again at the next start.
        if try writeConnection.queryFirst("PRAGMA auto_vacuum", [], { $0.int(0) }) != 2 {
            do {
                try writeConnection.execute("PRAGMA auto_vacuum = INCREMENTAL")
                try writeConnection.execute("VACUUM")
            } catch {
                logger.warning("The database could not be rebuilt for incremental vacuum; freed space stays in the file", metadata: ["sb.error": "\(error)"])
            }
        }
        let applied = try Migrations.run(on: writeConnection)
        if !applied.isEmpty {
            logger.info("Database migrated", metadata: ["sb.db.path": "\(configuration.path)", "sb.db.versions": "\(applied)"])
        }
        let commits = CommitSignal()
        self.commits = commits
        let recentEvents = RecentEvents(floor: try Self.lastPosition(in: writeConnection))
        self.recentEvents = recentEvents
        self.ids = ids
        self.logger = logger
        self.path = configuration.path
        self.lock = lock
        let path = configuration.path
        let synchronous = configuration.synchronous.name.uppercased()
        let readers = SQLiteReaderPool(capacity: configuration.readers) {
            let connection = try SQLiteConnection(path: path, isReadOnly: true, synchronous: synchronous)
            try connection.execute("PRAGMA query_only = ON")
            return connection
        }
        self.readers = readers
        // Opened last: nothing throws once its thread runs.
        let checkpointer = SQLiteCheckpointer(
            connection: try SQLiteConnection(path: configuration.path, isReadOnly: false, synchronous: configuration.synchronous.name.uppercased()),
            logger: logger
        )
        self.checkpointer = checkpointer
        writeConnection.reportWALSize(to: checkpointer)
        let agentCache = agentCache
        let conversationCache = conversationCache
        self.writer = SQLiteWriter(connection: writeConnection, maxBatch: configuration.maxBatch, readers: readers, observer: observer, logger: logger) { commit in
            Self.invalidate(commit, agents: agentCache, conversations: conversationCache)
            guard !commit.events.isEmpty else { return }
            // In memory first: a reader the signal wakes finds the events there.
            recentEvents.append(commit.events)
            commits.notify(advancingBy: UInt64(commit.events.count))
        }
    }

    /// Drops the cached copies of the records a commit saved, each cache only when it holds their kind.
    private static func invalidate(_ commit: SQLiteWriter.Commit, agents: RecordCache<Agent>, conversations: RecordCache<Conversation>) {
        var changedAgents: [RecordKey] = []
        var changedConversations: [RecordKey] = []
        for record in commit.changedRecords {
            switch record {
            case .agent(let key): changedAgents.append(key)
            case .conversation(let key): changedConversations.append(key)
            }
        }
        if !changedAgents.isEmpty { agents.invalidate(changedAgents, commits: commit.commits) }
        if !changedConversations.isEmpty { conversations.invalidate(changedConversations, commits: commit.commits) }
    }

    /// The schema version this build migrates to.
    public static var schemaVersion: Int { Migrations.latestVersion }

    public var schemaVersion: Int { Self.schemaVersion }

    public func observe(with observer: any StoreObserver) {
        self.observer.set(observer)
    }

    /// Finishes queued writes and closes every connection, the writer last: the last connection to close
    /// folds the WAL into the database, and a read-only one cannot.
    public func close() {
        readers.drain()
        checkpointer.stop()
        writer.stop()
        lock.release()
    }

    /// Runs a read on a pooled connection, mapping SQLite failures to `unavailable`.
    func read<Result>(_ body: (SQLiteConnection) throws -> Result) throws -> Result {
        try read { connection, _ in try body(connection) }
    }

    /// Runs a read like `read(_:)`, also handing `body` its transaction's snapshot.
    func read<Result>(_ body: (SQLiteConnection, SQLiteReaderPool.Snapshot) throws -> Result) throws -> Result {
        do {
            return try readers.read(body)
        } catch let error as SQLiteError {
            logger.error("Database read failed", metadata: ["sb.error": "\(error)"])
            observer.databaseFailed(.read)
            throw Self.unavailableError
        }
    }

    /// The record `key` names from `cache`, else from SQLite by `load` (and then cached).
    func cachedRecord<Record>(_ key: RecordKey, in cache: RecordCache<Record>, load: (SQLiteConnection) throws -> Record?) throws -> Record? {
        if let record = cache.record(key) { return record }
        return try read { connection, snapshot in
            let record = try load(connection)
            if let record { cache.insert(record, for: key, readIn: snapshot) }
            return record
        }
    }

    /// Runs a write in the next group commit, mapping SQLite failures to `storage_full` (the disk is
    /// full; `writeProblem` says so until a write succeeds) or `unavailable`.
    @discardableResult
    func write<Result: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> Result) async throws -> Result {
        do {
            let result = try await writer.write(body)
            storageFull.withLock { $0 = false }
            return result
        } catch let error as SQLiteError {
            observer.databaseFailed(.write)
            guard Self.isFull(error) else {
                logger.error("Database write failed", metadata: ["sb.error": "\(error)"])
                throw Self.unavailableError
            }
            if !storageFull.withLock({ full in defer { full = true }; return full }) {
                logger.critical("The database's disk is full: writes are refused until space is freed", metadata: ["sb.db.path": "\(path)"])
            }
            throw Self.storageFullError
        }
    }

    /// The current time at the store's precision (milliseconds), so a returned record equals the stored one.
    static func now() -> Date {
        Date(timeIntervalSince1970: Double(Int64(Date().timeIntervalSince1970 * 1000)) / 1000)
    }

    static let unavailableError = SwitchboardError(
        kind: .unavailable,
        code: "store_unavailable",
        detail: "The database cannot serve this request right now; retry later."
    )

    static let closedError = SwitchboardError(kind: .unavailable, code: "store_closed", detail: "The server is shutting down.")
}
