import ArgumentParser

@main
struct Switchboard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchboard",
        abstract: "Customer-service integration server.",
        subcommands: [Serve.self, Migrate.self, Tenants.self, Keys.self, Plugins.self, Security.self, Statistics.self, PluginHostCommand.self]
    )
}
