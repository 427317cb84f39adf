import ArgumentParser
import Foundation
import SwitchboardCore
import SwitchboardServer

struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "See the servers sharing the database.",
        subcommands: [Status.self]
    )

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the servers sharing the database: id, address, start, last heartbeat, state, and the leases each holds.",
            discussion: """
                Each server records a heartbeat every 2 s. A server silent for longer than 6 s is shown as \
                silent (the others no longer count it): it stopped without leaving (killed) or cannot \
                reach the database, and its leases go to another server once its database session ends.
                """
        )

        @OptionGroup var options: ConfigOptions

        func run() async throws {
            try await options.withStore { store, _ in
                guard store.isShared else {
                    print("This database is a SQLite file, which one server owns: there is no cluster. Several servers share a PostgreSQL database (database.url).")
                    return
                }
                let nodes = try await store.nodes()
                guard !nodes.isEmpty else {
                    print("No server is registered in this database.")
                    return
                }
                let now = Date()
                print(["NODE", "ADDRESS", "STARTED", "HEARTBEAT", "STATE", "LEASES"].joined(separator: "\t"))
                for node in nodes {
                    let age = max(0, now.timeIntervalSince(node.heartbeatAt))
                    let row = [
                        node.id, node.address, node.startedAt.ISO8601Format(), String(format: "%.1f s ago", age),
                        node.isLive(at: now) ? "up" : "silent", node.leases.isEmpty ? "-" : node.leases.joined(separator: ","),
                    ]
                    // Rows come from the database: no control character of theirs reaches the terminal.
                    print(String(row.joined(separator: "\t").unicodeScalars.map { $0 == "\t" || !CharacterSet.controlCharacters.contains($0) ? Character($0) : "?" }))
                }
            }
        }
    }
}
