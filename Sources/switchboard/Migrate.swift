import ArgumentParser
import Logging
import SwitchboardStore

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create or upgrade the database schema, then exit.")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let configuration = try options.load()
        let store = try options.openStore(configuration, logger: Logger(label: "switchboard"))
        store.close()
        print("Database \(configuration.database.path) is at schema version \(SQLiteStore.schemaVersion).")
    }
}
