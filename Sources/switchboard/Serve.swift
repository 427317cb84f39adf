import ArgumentParser
import Foundation
import Hummingbird
import Logging
import SwitchboardServer

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the server until SIGTERM or SIGINT.")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let configuration = try options.load()
        let logger = Logger(label: "switchboard")
        let store = try options.openStore(configuration, logger: logger)
        if let demo = try await Bootstrap.prepare(store: store, configuration: configuration) {
            FileHandle.standardOutput.write(
                Data(
                """
                Created the demo tenant \(demo.tenant.id) with an admin API key. It is shown only now:

                    \(demo.secret)

                Try: curl -H 'Authorization: Bearer \(demo.secret)' http://\(configuration.server.host):\(configuration.server.port)/api/v1/agents

                """.utf8
                )
            )
        }
        let app = try await buildApplication(configuration: configuration, store: store, logger: logger)
        try await app.runService()
    }
}
