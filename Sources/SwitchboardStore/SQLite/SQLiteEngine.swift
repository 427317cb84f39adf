import CSQLite
import Foundation
import Logging
import Synchronization
import SwitchboardCore

/// The embedded engine: one SQLite database file in WAL mode, one writer thread, a pool of read-only
/// connections that read on the caller's thread, and a checkpointer that keeps the WAL small.
final class SQLiteEngine: SQLEngine {
    let readers: SQLiteReaderPool
    let checkpointer: SQLiteCheckpointer
    /// The database file.
    let path: String
    /// Held shared while the store is open, so a restore cannot replace the database under it.
    let lock: SQLiteDatabaseLock
    private let writeConnection: SQLiteConnection
    private let settingsWatcher = Mutex<SQLiteSettingsWatcher?>(nil)
    /// The settings generations this process's own writes made (`markSettingsWrite`), which the watcher
    /// does not report; it drops those it has passed.
    private let ownSettingsGenerations = Mutex<Set<Int64>>([])
    private let maxBatch: Int
    private let logger: Logger

    var dialect: SQLDialect { .sqlite }
    /// The file is locked against other servers (`SQLiteDatabaseLock`); a CLI that writes, like
    /// `switchboard keys create`, is seen within `ReadSnapshot.lifetime`.
    var isSoleWriter: Bool { true }

    /// Bumps `settings_generation`, which servers on the same file watch, and keeps the new value as this
    /// process's own (recorded before the commit makes it visible).
    func markSettingsWrite(_ db: any SQLConnection) throws {
        let generation = try db.queryFirst(
            "INSERT INTO settings_generation (id, generation) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET generation = settings_generation.generation + 1 RETURNING generation",
            []
        ) { $0.int64(0) }
        if let generation { ownSettingsGenerations.withLock { _ = $0.insert(generation) } }
    }

    /// Hears settings changes another process (a CLI command) made, within
    /// `SQLiteSettingsWatcher.interval`; its other writes are unseen by the record caches no longer than
    /// `ReadSnapshot.lifetime`, like by any read.
    func observeOtherWriters(_ onChange: @escaping @Sendable (OtherCommit, UInt64) -> Void) {
        do {
            let connection = try SQLiteConnection(path: path, isReadOnly: true, synchronous: "NORMAL")
            let watcher = SQLiteSettingsWatcher(connection: connection, logger: logger) { [self] seen, current in
                // Only generations another process made count: this one's changes were applied where made.
                let isOthers = ownSettingsGenerations.withLock { own in
                    defer { own = own.filter { $0 > current } }
                    return current < seen || (seen..<current).contains { !own.contains($0 + 1) }
                }
                if isOthers { onChange(OtherCommit(records: [.settings], events: 0), 0) }
            }
            settingsWatcher.withLock { current in
                let previous = current
                current = watcher
                return previous
            }?.stop()
        } catch {
            logger.warning("Settings changes by other processes go unheard until caches expire", metadata: ["sb.error": "\(error)"])
        }
    }
    var location: String { path }

    /// One server per file: it holds every lease, and never loses one.
    func takeLease(_ name: String) async throws -> (any Lease)? { SoleServerLease() }

    /// The newest position in the log when the database was opened.
    let lastPosition: Int64

    /// Opens the database, creating it and running migrations as needed.
    /// - Throws: `SQLiteError` when the file cannot be opened or migrated.
    init(configuration: DatabaseSettings, logger: Logger) throws {
        try Self.makePrivate(path: configuration.path)
        let lock = try SQLiteDatabaseLock(database: configuration.path, exclusive: false)
        let synchronous = configuration.synchronous.name.uppercased()
        let writeConnection = try SQLiteConnection(path: configuration.path, isReadOnly: false, synchronous: synchronous)
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
        lastPosition = try writeConnection.queryFirst("SELECT coalesce(max(position), 0) FROM events") { $0.int64(0) } ?? 0
        let path = configuration.path
        readers = SQLiteReaderPool(capacity: configuration.readers) {
            let connection = try SQLiteConnection(path: path, isReadOnly: true, synchronous: synchronous)
            try connection.execute("PRAGMA query_only = ON")
            return connection
        }
        // Opened last: nothing throws once its thread runs.
        checkpointer = SQLiteCheckpointer(
            connection: try SQLiteConnection(path: configuration.path, isReadOnly: false, synchronous: synchronous),
            logger: logger
        )
        writeConnection.reportWALSize(to: checkpointer)
        self.writeConnection = writeConnection
        self.path = path
        self.lock = lock
        self.maxBatch = configuration.maxBatch
        self.logger = logger
    }

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

    /// Reads on the caller's thread: a SQLite read is a short, local call.
    func read<Result: Sendable>(_ body: @escaping @Sendable (any SQLConnection, ReadSnapshot) throws -> Result) async throws -> Result {
        try readers.read(body)
    }

    func makeWriter(observer: any StoreObserver, onCommitted: @escaping @Sendable (SQLWriter.Commit) -> Void) -> SQLWriter {
        let connection = writeConnection
        let readers = readers
        return SQLWriter(
            connection: connection,
            open: { connection },
            threadName: "sqlite-writer",
            maxBatch: maxBatch,
            hooks: .init(beforeCommit: { _ in readers.endIdleSnapshots() }, afterCommit: { readers.committed() }),
            observer: observer,
            logger: logger,
            onCommitted: onCommitted
        )
    }

    /// Runs SQLite's incremental vacuum, 2,000 pages per write job so writers wait at most one step:
    /// the pages deleted rows freed go back to the file system.
    func reclaimSpace(writer: SQLWriter) async throws -> Int64 {
        var freed: Int64 = 0
        while true {
            let step = try await writer.write { db -> (freed: Int64, left: Int64) in
                let pageSize = try db.queryFirst("PRAGMA page_size") { $0.int64(0) } ?? 4_096
                let before = try db.queryFirst("PRAGMA freelist_count") { $0.int64(0) } ?? 0
                try db.execute("PRAGMA incremental_vacuum(2000)")
                let after = try db.queryFirst("PRAGMA freelist_count") { $0.int64(0) } ?? 0
                return ((before - after) * pageSize, after)
            }
            freed += step.freed
            if step.left == 0 || step.freed == 0 { return freed }
        }
    }

    func figures() async throws -> DatabaseFigures {
        let wal = (try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int64) ?? 0
        return try readers.read { db, _ in
            let pages = try db.queryFirst("PRAGMA page_count") { $0.int64(0) } ?? 0
            let pageSize = try db.queryFirst("PRAGMA page_size") { $0.int64(0) } ?? 4_096
            let tables = try db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name") { $0.text(0) }
            var rows: [String: Int64] = [:]
            for table in tables {
                rows[table] = try db.queryFirst("SELECT count(*) FROM \"\(table)\"") { $0.int64(0) } ?? 0
            }
            return DatabaseFigures(databaseBytes: pages * pageSize, logBytes: wal, rows: rows)
        }
    }

    /// Closes every connection, the writer's last: the last connection to close folds the WAL into the
    /// database, and a read-only one cannot. Then releases the file lock.
    func close(writer: SQLWriter) {
        settingsWatcher.withLock { $0 }?.stop()
        readers.drain()
        checkpointer.stop()
        writer.stop()
        lock.release()
    }
}

/// A lease of the only server on a SQLite file.
struct SoleServerLease: Lease {
    /// Never lost: returns when the task is cancelled.
    func waitUntilLost() async {
        while !Task.isCancelled { try? await Task.sleep(for: .seconds(3_600)) }
    }

    func release() async {}
}
