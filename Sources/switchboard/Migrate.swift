import ArgumentParser
import SwitchboardStore

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create or upgrade the database schema, then exit.")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        try await options.withStore { _, configuration in
            print("Database \(configuration.database.path) is at schema version \(SQLiteStore.schemaVersion).")
        }
    }
}
