import Logging
import SwitchboardCore
import SwitchboardPostgres
import SwitchboardStore

/// Opens the configured storage backend: the one place outside the store modules that names a
/// concrete store.
public enum StoreFactory {
    /// Opens (creating and migrating as needed) the database `settings` describe: PostgreSQL when
    /// `database.url` is set, else the SQLite file.
    /// - Throws: the backend's error when it cannot be opened or migrated.
    public static func open(_ settings: DatabaseSettings, logger: Logger) throws -> any SwitchboardStorage {
        if settings.url != nil { return try PostgresStore.open(settings, logger: logger) }
        return try SQLStore(sqlite: settings, logger: logger)
    }

    /// Copies the SQLite database at `path` into the empty PostgreSQL database of `settings.url`.
    /// - Throws: for a target that holds rows, a source a server has open or of another schema
    ///   version, and the databases' own failures; the target then holds nothing of the copy.
    public static func copy(
        fromSQLite path: String,
        to settings: DatabaseSettings,
        logger: Logger,
        progress: (DatabaseCopy.Progress) -> Void
    ) throws -> DatabaseCopy.Report {
        try DatabaseCopy.run(fromSQLite: path, to: settings, logger: logger, progress: progress)
    }

    /// Writes a consistent copy of the database to `file` while a server may be writing to it.
    /// - Throws: for a PostgreSQL database, whose copies are PostgreSQL's own (`pg_dump`, `pg_basebackup`).
    public static func backup(_ settings: DatabaseSettings, to file: String) throws {
        try refusePostgres(settings, "back up")
        try SQLiteBackup.backup(database: settings.path, to: file)
    }

    private static func refusePostgres(_ settings: DatabaseSettings, _ action: String) throws {
        guard settings.url == nil else {
            throw SwitchboardError(
                kind: .invalidInput,
                code: "not_sqlite",
                detail: "switchboard can \(action) only its SQLite file; a PostgreSQL database is backed up and restored with PostgreSQL's tools (pg_dump, pg_basebackup)"
            )
        }
    }

    /// Checks a copy made by `backup`; returns its schema version.
    @discardableResult
    public static func check(copy file: String) throws -> Int {
        try SQLiteBackup.check(file)
    }

    /// Puts a checked copy in place of the database; refuses one that is open.
    public static func restore(_ settings: DatabaseSettings, from file: String, replacing: Bool) throws {
        try refusePostgres(settings, "restore")
        try SQLiteBackup.restore(from: file, to: settings.path, replacing: replacing)
    }
}
