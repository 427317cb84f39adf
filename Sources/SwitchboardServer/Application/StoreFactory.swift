import Logging
import SwitchboardCore
import SwitchboardStore

/// Opens the configured storage backend: the one place outside the store modules that names a
/// concrete store.
public enum StoreFactory {
    /// Opens (creating and migrating as needed) the database `settings` describe.
    /// - Throws: the backend's error when it cannot be opened or migrated.
    public static func open(_ settings: DatabaseSettings, logger: Logger) throws -> any SwitchboardStorage {
        try SQLiteStore(configuration: settings, logger: logger)
    }
}
