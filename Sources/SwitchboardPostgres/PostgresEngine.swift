import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import SwitchboardCore
import SwitchboardStore
import Synchronization

/// The PostgreSQL engine: several servers may share the database.
///
/// - Writes: one writer thread per server with its own connection (`SQLWriter`, as on SQLite); every
///   write transaction holds one advisory lock, so commits across all servers happen one at a time and
///   the global `position` grows in commit order (with gaps where a transaction rolled back) and each
///   tenant's `seq` without gaps.
/// - Reads: `poolSize - 1` threads, each blocking on a pooled connection; a read hops from the caller's
///   task to one of them, so no task of the server ever waits on the network.
/// - A connection that broke (PostgreSQL restarted, the network dropped) is closed and replaced at its
///   next use; until one opens again, reads and writes fail with `unavailable`.
///
/// - Important: Thread-safe: idle connections live behind a mutex; a connection is used by one
///   thread at a time.
final class PostgresEngine: SQLEngine {
    private let target: PostgresTarget
    private let timeout: Duration
    private let maxBatch: Int
    private let logger: Logger
    private let readThreads: NIOThreadPool
    /// Idle read connections, and whether the engine closed (a read ending later closes its connection).
    private let idle = Mutex<(connections: [PostgresSQLConnection], isClosed: Bool)>(([], false))
    private let readCapacity: Int
    /// This server's commits, and the other servers' commits it heard of: what the record caches count.
    private let commitCount = Atomic<UInt64>(0)
    private let listener: CommitListener
    private let leases: AdvisoryLeases

    var dialect: SQLDialect { .postgres }
    var isSoleWriter: Bool { false }
    var location: String { target.description }

    /// The newest position in the log when the engine opened.
    let lastPosition: Int64

    /// Connects, creates or migrates the schema, and checks its version.
    /// - Throws: `PostgresFailure` naming the host and port when PostgreSQL cannot be reached, or the
    ///   schema versions when the database is newer than this build.
    init(settings: DatabaseSettings, logger: Logger) throws {
        guard let url = settings.url else { throw PostgresFailure(sqlState: nil, message: "no database.url") }
        target = try PostgresTarget(url: url)
        timeout = settings.statementTimeout
        maxBatch = settings.maxBatch
        self.logger = logger
        readCapacity = max(1, settings.poolSize - 1)
        let connection = try PostgresSQLConnection(target: target, timeout: timeout, eventLoop: Self.eventLoops.next(), logger: logger)
        defer { connection.close() }
        let applied = try PostgresMigrations.run(on: connection)
        if !applied.isEmpty {
            logger.info("Database migrated", metadata: ["sb.db": "\(target)", "sb.db.versions": "\(applied)"])
        }
        lastPosition = try connection.queryFirst("SELECT coalesce(max(position), 0) FROM events") { $0.int64(0) } ?? 0
        listener = CommitListener(target: target, timeout: TimeAmount(timeout), eventLoop: Self.eventLoops.next(), logger: logger)
        leases = AdvisoryLeases(target: target, timeout: TimeAmount(timeout), eventLoop: Self.eventLoops.next(), logger: logger)
        readThreads = NIOThreadPool(numberOfThreads: readCapacity)
        readThreads.start()
    }

    /// The event loops of every PostgreSQL connection: their sockets, never the callers' threads.
    static let eventLoops = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    private func connect() throws -> PostgresSQLConnection {
        try PostgresSQLConnection(target: target, timeout: timeout, eventLoop: Self.eventLoops.next(), logger: logger)
    }

    func read<Result: Sendable>(_ body: @escaping @Sendable (any SQLConnection, ReadSnapshot) throws -> Result) async throws -> Result {
        let snapshot = ReadSnapshot(commits: commitCount.load(ordering: .acquiring), started: .now)
        return try await readThreads.runIfActive { [self] in
            // A connection whose last read's COMMIT failed is replaced.
            var reused: PostgresSQLConnection?
            while reused == nil, let candidate = idle.withLock({ $0.connections.popLast() }) {
                if candidate.settleQueued() { reused = candidate } else { candidate.close() }
            }
            let connection = try reused ?? connect()
            defer {
                let kept = connection.isUsable && idle.withLock { idle in
                    guard !idle.isClosed, idle.connections.count < readCapacity else { return false }
                    idle.connections.append(connection)
                    return true
                }
                if !kept { connection.close() }
            }
            // One snapshot for every statement of the read, as SQLite's read transactions give.
            // BEGIN goes ahead of the first statement, and the COMMIT of a read-only transaction is not
            // waited for (the next user of the connection settles it): one wait for a one-query read
            // (postgres-nio still sends each statement after the previous one's answer).
            try connection.queue("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            do {
                let result = try body(connection, snapshot)
                try connection.queue("COMMIT")
                return result
            } catch {
                try? connection.execute("ROLLBACK")
                throw error
            }
        }
    }

    func makeWriter(observer: any StoreObserver, onCommitted: @escaping @Sendable (SQLWriter.Commit) -> Void) -> SQLWriter {
        SQLWriter(
            connection: nil,
            open: { [self] in try connect() },
            threadName: "pg-writer",
            maxBatch: maxBatch,
            hooks: .init(
                beforeCommit: { [listener] connection in
                    try listener.notify(events: connection.appendedEvents.count, records: connection.changedRecords, on: connection)
                },
                afterCommit: { [self] in commitCount.add(1, ordering: .releasing).newValue }
            ),
            observer: observer,
            logger: logger,
            onCommitted: onCommitted
        )
    }

    /// Other servers hear of settings changes by the commit's notification (`CommitListener`).
    func markSettingsWrite(_ db: any SQLConnection) throws {}

    /// Other servers' commits arrive as notifications (`CommitListener`), each counted as a commit.
    func observeOtherWriters(_ onChange: @escaping @Sendable (OtherCommit, UInt64) -> Void) {
        listener.start { [self] commit in onChange(commit, commitCount.add(1, ordering: .releasing).newValue) }
    }

    func takeLease(_ name: String) async throws -> (any Lease)? {
        try await leases.take(name)
    }

    /// PostgreSQL's autovacuum gives deleted rows' space back for reuse; nothing to do here.
    func reclaimSpace(writer: SQLWriter) async throws -> Int64 { 0 }

    func figures() async throws -> DatabaseFigures {
        try await read { db, _ in
            let bytes = try db.queryFirst("SELECT pg_database_size(current_database())") { $0.int64(0) } ?? 0
            // PostgreSQL's own row estimates: no table is scanned at each scrape, and no name is spliced into SQL.
            var rows: [String: Int64] = [:]
            for (table, count) in try db.query(
                "SELECT relname, n_live_tup FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname <> ?",
                [.text(PostgresMigrations.versionTable)],
                { ($0.text(0), $0.int64(1)) }
            ) {
                rows[table] = count
            }
            return DatabaseFigures(databaseBytes: bytes, logBytes: 0, rows: rows)
        }
    }

    func close(writer: SQLWriter) {
        writer.stop()
        listener.close()
        leases.close()
        let connections = idle.withLock { idle in
            idle.isClosed = true
            defer { idle.connections.removeAll() }
            return idle.connections
        }
        for connection in connections { connection.close() }
        try? readThreads.syncShutdownGracefully()
    }
}

/// Runs `PostgresSchema`'s steps, each in a transaction, while holding an advisory lock so that
/// servers starting together migrate once; the version lives in `switchboard_schema`.
enum PostgresMigrations {
    static let versionTable = "switchboard_schema"
    private static let migrationLockKey: Int64 = 0x5357_4254_4d49_4752  // "SWBTMIGR"

    /// The schema version this build migrates to: the same as SQLite's.
    static var latestVersion: Int { PostgresSchema.steps.last?.version ?? 0 }

    /// Migrates the database to `latestVersion`; returns the versions applied now.
    /// - Throws: `PostgresFailure` for a database of a newer schema, naming both versions, before
    ///   anything is written.
    static func run(on connection: PostgresSQLConnection) throws -> [Int] {
        try connection.execute("SELECT pg_advisory_lock(\(migrationLockKey))")
        defer { _ = try? connection.execute("SELECT pg_advisory_unlock(\(migrationLockKey))") }
        try connection.execute("CREATE TABLE IF NOT EXISTS \(versionTable) (version BIGINT NOT NULL)")
        let current = try checkVersion(on: connection)
        var applied: [Int] = []
        for step in PostgresSchema.steps where step.version > current {
            try connection.execute("BEGIN")
            do {
                for statement in step.statements { try connection.execute(statement) }
                try connection.execute("DELETE FROM \(versionTable)")
                try connection.run("INSERT INTO \(versionTable) (version) VALUES (?)", [.integer(Int64(step.version))])
                try connection.execute("COMMIT")
            } catch {
                _ = try? connection.execute("ROLLBACK")
                throw error
            }
            applied.append(step.version)
        }
        return applied
    }

    /// The database's schema version, checked to be one this build can serve or migrate.
    static func checkVersion(on connection: PostgresSQLConnection) throws -> Int {
        let current = try connection.queryFirst("SELECT max(version) FROM \(versionTable)") { $0.int($0.isNull(0) ? -1 : 0) } ?? 0
        let version = current == -1 ? 0 : current
        guard (0...latestVersion).contains(version) else {
            throw PostgresFailure(
                sqlState: nil,
                message: "the database is at schema version \(version), not one this build knows (up to \(latestVersion)): run the newer build, or restore a backup of this version"
            )
        }
        return version
    }
}

/// Opens the store on the PostgreSQL database `database.url` names.
public enum PostgresStore {
    /// Connects, migrates, and returns the store.
    /// - Throws: a failure naming the host and port when PostgreSQL cannot be reached, or the schema
    ///   versions when the database is newer than this build.
    public static func open(_ settings: DatabaseSettings, logger: Logger, ids: TimeOrderedIDGenerator = .shared) throws -> SQLStore {
        let engine = try PostgresEngine(settings: settings, logger: logger)
        return SQLStore(engine: engine, lastPosition: engine.lastPosition, logger: logger, ids: ids)
    }
}
