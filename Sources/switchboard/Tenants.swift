import ArgumentParser
import Foundation
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
            try await options.withStore { store, _ in
                let tenant = try await store.createTenant(name: name)
                print(tenant.id)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tenants: id, creation time, name.")

        @OptionGroup var options: ConfigOptions

        func run() async throws {
            try await options.withStore { store, _ in
                for tenant in try await store.tenants() {
                    print("\(tenant.id)\t\(tenant.createdAt.ISO8601Format())\t\(tenant.name)")
                }
            }
        }
    }
}
