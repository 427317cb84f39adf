import ArgumentParser
import Foundation
import Logging
import SwitchboardCore

struct Tenants: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage tenants.",
        subcommands: [Create.self, List.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a tenant and print its id.")

        @OptionGroup var options: ConfigOptions
        @Option(help: "The tenant's display name.") var name: String

        func run() async throws {
            let configuration = try options.load()
            let store = try options.openStore(configuration, logger: Logger(label: "switchboard"))
            defer { store.close() }
            let tenant = try await store.createTenant(name: name)
            print(tenant.id)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tenants: id, creation time, name.")

        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let configuration = try options.load()
            let store = try options.openStore(configuration, logger: Logger(label: "switchboard"))
            defer { store.close() }
            for tenant in try store.tenants() {
                print("\(tenant.id)\t\(tenant.createdAt.ISO8601Format())\t\(tenant.name)")
            }
        }
    }
}
