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

    /// Writes a consistent copy of the database to `file` while a server may be writing to it.
    public static func backup(_ settings: DatabaseSettings, to file: String) throws {
        try SQLiteBackup.backup(database: settings.path, to: file)
    }

    /// Checks a copy made by `backup`; returns its schema version.
    @discardableResult
    public static func check(copy file: String) throws -> Int {
        try SQLiteBackup.check(file)
    }

    /// Puts a checked copy in place of the database; refuses one that is open.
    public static func restore(_ settings: DatabaseSettings, from file: String, replacing: Bool) throws {
        try SQLiteBackup.restore(from: file, to: settings.path, replacing: replacing)
    }
}
