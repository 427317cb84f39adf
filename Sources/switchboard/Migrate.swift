import ArgumentParser

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create or upgrade the database schema, then exit.")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        try await options.withStore { store, configuration in
            print("Database \(configuration.database.path) is at schema version \(store.schemaVersion).")
        }
    }
}
