import Foundation
import CSQLite
import Logging
import SwitchboardCore
import Synchronization

/// The names of the leases a process holds.
final class HeldLeaseNames: Sendable {
    private let names = Mutex<Set<String>>([])

    var sorted: [String] { names.withLock { $0.sorted() } }

    func insert(_ name: String) { _ = names.withLock { $0.insert(name) } }

    func remove(_ name: String) { _ = names.withLock { $0.remove(name) } }
}

/// The store: every storage port, written once in SQL over an engine (`SQLEngine`): SQLite, the
/// embedded default, or PostgreSQL (`SwitchboardPostgres`).
///
/// Writes go through one writer thread that commits in groups (`SQLWriter`); reads go to the engine.
/// Agents and conversations read recently are kept in memory (dropped by this process's commits and,
/// on PostgreSQL, by the other servers' as the engine hears of them); the newest events only when
/// this process is the database's only writer (SQLite).
/// - Important: Thread-safe. Call `close()` once, after the last request finished.
public final class SQLStore: StoreMaintenance {
    let engine: any SQLEngine
    let writer: SQLWriter
    let ids: TimeOrderedIDGenerator
    let logger: Logger
    /// Whether the last write failed for a full disk; cleared by the next write that succeeds.
    let storageFull = Mutex(false)
    /// Signalled after every group commit that appended events: this process's, and other servers' as
    /// the engine hears of them.
    public let commits: CommitSignal
    /// The newest committed events, for the log's readers; nil unless this process is the only writer.
    let recentEvents: RecentEvents?
    /// What the log's readers last read, when there are no recent events (PostgreSQL: other servers write too).
    let readWindow: LogReadWindow?
    /// Where commit times and database failures are reported.
    let observer = StoreObserverSlot()
    /// Agents read recently by id, dropped when this process's commits or (as the engine hears of
    /// them) another's save them.
    let agentCache: RecordCache<Agent>
    /// Conversations read recently by id, dropped like the agents.
    let conversationCache: RecordCache<Conversation>
    /// Signalled when another process's commit changed settings (`writeSettings`), as the engine hears
    /// of it, or when its commits may have been missed; this process's own changes invalidate its caches
    /// where they are made.
    public let settingsChanged = CommitSignal()
    /// The names of the leases this process holds (`takeLease`).
    let held = HeldLeaseNames()

    /// Opens the SQLite database `configuration` names, creating it and running migrations as needed.
    /// - Throws: `SQLiteError` when the file cannot be opened or migrated.
    public convenience init(sqlite configuration: DatabaseSettings, logger: Logger, ids: TimeOrderedIDGenerator = .shared) throws {
        let engine = try SQLiteEngine(configuration: configuration, logger: logger)
        self.init(engine: engine, lastPosition: engine.lastPosition, logger: logger, ids: ids)
    }

    /// A store over an opened and migrated engine whose log ends at `lastPosition`.
    package init(engine: any SQLEngine, lastPosition: Int64, logger: Logger, ids: TimeOrderedIDGenerator = .shared) {
        self.engine = engine
        self.ids = ids
        self.logger = logger
        let commits = CommitSignal()
        self.commits = commits
        let recentEvents = engine.isSoleWriter ? RecentEvents(floor: lastPosition) : nil
        let agentCache = RecordCache<Agent>()
        let conversationCache = RecordCache<Conversation>()
        self.recentEvents = recentEvents
        self.readWindow = recentEvents == nil ? LogReadWindow() : nil
        self.agentCache = agentCache
        self.conversationCache = conversationCache
        let settingsChanged = settingsChanged
        self.writer = engine.makeWriter(observer: observer) { commit in
            // This process's own settings changes invalidate its caches where they are made.
            Self.invalidate(commit.changedRecords, commits: commit.commits, agents: agentCache, conversations: conversationCache, settings: nil)
            guard !commit.events.isEmpty else { return }
            // In memory first: a reader the signal wakes finds the events there.
            recentEvents?.append(commit.events)
            commits.notify(advancingBy: UInt64(commit.events.count))
        }
        engine.observeOtherWriters { other, count in
            Self.invalidate(other.records, commits: count, agents: agentCache, conversations: conversationCache, settings: settingsChanged)
            // Their events are read from the database (no recent events are kept with other writers).
            if other.events > 0 { commits.notify(advancingBy: UInt64(other.events)) }
        }
    }

    /// Drops the cached copies of the records a commit saved, each cache only when it holds their kind,
    /// and signals `settings` (when given) when it changed settings; every copy and the signal when
    /// `records` is nil (another process's commits may have been missed).
    private static func invalidate(
        _ records: [ChangedRecord]?,
        commits: UInt64,
        agents: RecordCache<Agent>,
        conversations: RecordCache<Conversation>,
        settings: CommitSignal?
    ) {
        guard let records else {
            agents.invalidateAll(commits: commits)
            conversations.invalidateAll(commits: commits)
            settings?.notify()
            return
        }
        var changedAgents: [RecordKey] = []
        var changedConversations: [RecordKey] = []
        var isSettingsChanged = false
        for record in records {
            switch record {
            case .agent(let key): changedAgents.append(key)
            case .conversation(let key): changedConversations.append(key)
            case .settings: isSettingsChanged = true
            }
        }
        if isSettingsChanged { settings?.notify() }
        if !changedAgents.isEmpty { agents.invalidate(changedAgents, commits: commits) }
        if !changedConversations.isEmpty { conversations.invalidate(changedConversations, commits: commits) }
    }

    /// The schema version this build migrates to, on either engine.
    public static var schemaVersion: Int { Migrations.latestVersion }

    public var schemaVersion: Int { Self.schemaVersion }

    public func observe(with observer: any StoreObserver) {
        self.observer.set(observer)
    }

    /// Finishes queued writes and closes every connection.
    public func close() {
        engine.close(writer: writer)
    }

    /// Runs a read, mapping database failures to `unavailable`.
    func read<Result: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> Result) async throws -> Result {
        try await read { connection, _ in try body(connection) }
    }

    /// Runs a read like `read(_:)`, also handing `body` its transaction's snapshot.
    func read<Result: Sendable>(_ body: @escaping @Sendable (any SQLConnection, ReadSnapshot) throws -> Result) async throws -> Result {
        do {
            return try await engine.read(body)
        } catch let error as any DatabaseFailure {
            if error.isInvalidValue { throw Self.invalidValueError }
            logger.error("Database read failed", metadata: ["sb.error": "\(error)"])
            observer.databaseFailed(.read)
            throw Self.unavailableError
        }
    }

    /// The record `key` names from `cache`, else from the database by `load` (and then cached).
    func cachedRecord<Record: Sendable>(
        _ key: RecordKey,
        in cache: RecordCache<Record>,
        load: @escaping @Sendable (any SQLConnection) throws -> Record?
    ) async throws -> Record? {
        if let record = cache.record(key) { return record }
        return try await read { connection, snapshot in
            let record = try load(connection)
            if let record { cache.insert(record, for: key, readIn: snapshot) }
            return record
        }
    }

    /// Runs a write that changes what the request path caches (keys, tenant settings, OAuth clients,
    /// signing keys, token issuers, integrations): its commit signals `settingsChanged` on every other
    /// server, through the engine.
    @discardableResult
    func writeSettings<Result: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> Result) async throws -> Result {
        let engine = engine
        return try await write { db in
            let result = try body(db)
            db.changedRecords.append(.settings)
            try engine.markSettingsWrite(db)
            return result
        }
    }

    /// Runs a write in the next group commit, mapping database failures to `storage_full` (the disk is
    /// full; `writeProblem` says so until a write succeeds) or `unavailable`.
    @discardableResult
    func write<Result: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> Result) async throws -> Result {
        do {
            let result = try await writer.write(body)
            storageFull.withLock { $0 = false }
            return result
        } catch let error as any DatabaseFailure {
            if error.isInvalidValue { throw Self.invalidValueError }
            observer.databaseFailed(.write)
            guard error.isStorageFull else {
                logger.error("Database write failed", metadata: ["sb.error": "\(error)"])
                throw Self.unavailableError
            }
            if !storageFull.withLock({ full in defer { full = true }; return full }) {
                logger.critical("The database's disk is full: writes are refused until space is freed", metadata: ["sb.db": "\(engine.location)"])
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
        code: "database_unavailable",
        detail: "The database cannot serve this request right now; retry later."
    )

    static let invalidValueError = SwitchboardError(
        kind: .invalidInput,
        code: "invalid_value",
        detail: "The database cannot store a value of this request (a NUL character, say); nothing was written."
    )

    static let closedError = SwitchboardError(kind: .unavailable, code: "store_closed", detail: "The server is shutting down.")
}
