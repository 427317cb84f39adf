import ArgumentParser
import Foundation
import Logging
import SwitchboardPluginHost
import SwitchboardServer

/// `switchboard plugin-host PATH`: the child process of a subprocess-isolated plugin instance. The server
/// starts it and speaks frames over its stdin and stdout; it is not meant to be run by hand.
struct PluginHostCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugin-host",
        abstract: "Run one plugin instance for a server over stdin/stdout (started by the server).",
        shouldDisplay: false
    )

    @Argument(help: "The plugin shared library.")
    var path: String

    func run() async throws {
        LoggingSystem.bootstrap { label in StandardErrorLogHandler(label: label, logLevel: .info) }
        let status = await PluginChild.run(path: path, logger: Logger(label: "switchboard.plugin-host"))
        if status != 0 { throw ExitCode(status) }
    }
}
