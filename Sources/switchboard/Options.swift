import ArgumentParser
import Foundation
import Logging
import SwitchboardCore
import SwitchboardServer

/// The `--config` option every command shares.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "A TOML configuration file (see Config/switchboard.toml). Defaults to $SWITCHBOARD_CONFIG, else built-in defaults.")
    var config: String?

    /// The configuration from the file and the environment, with the process's logging set up from it.
    func load() throws -> SwitchboardConfiguration {
        let environment = ProcessInfo.processInfo.environment
        let configuration: SwitchboardConfiguration
        do {
            configuration = try SwitchboardConfiguration.load(path: config ?? environment["SWITCHBOARD_CONFIG"], environment: environment)
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        }
        let level = configuration.logLevel
        LoggingSystem.bootstrap { label in StandardErrorLogHandler(label: label, logLevel: level) }
        return configuration
    }

    /// Loads the configuration, opens its store, runs `body` and closes the store.
    func withStore<Result>(_ body: (any SwitchboardStorage, SwitchboardConfiguration) async throws -> Result) async throws -> Result {
        let configuration = try load()
        let store = try openStore(configuration, logger: Logger(label: "switchboard"))
        defer { store.close() }
        return try await body(store, configuration)
    }

    /// Opens the configured store.
    func openStore(_ configuration: SwitchboardConfiguration, logger: Logger) throws -> any SwitchboardStorage {
        do {
            return try StoreFactory.open(configuration.database, logger: logger)
        } catch {
            guard configuration.database.url == nil else { throw ValidationError("Cannot open the PostgreSQL database: \(error)") }
            throw ValidationError("Cannot open the database at '\(configuration.database.path)': \(error)")
        }
    }
}
