import ArgumentParser
import Foundation
import SwitchboardCore

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage a tenant's API keys.",
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an API key and print its secret, once.")

        @OptionGroup var options: ConfigOptions
        @Option(help: "The tenant id.") var tenant: String
        @Option(help: "A name to recognise the key by.") var name: String = "cli"

        func run() async throws {
            try await options.withStore { store, _ in
                let (key, secret) = try await store.createAPIKey(tenant: tenant, name: name)
                FileHandle.standardError.write(Data("Created key \(key.id). The secret below is shown only once.\n".utf8))
                print(secret)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a tenant's keys: id, prefix, state, last use, name.")

        @OptionGroup var options: ConfigOptions
        @Option(help: "The tenant id.") var tenant: String

        func run() async throws {
            try await options.withStore { store, _ in
                guard try store.tenant(id: tenant) != nil else { throw ValidationError("No tenant has the id '\(tenant)'.") }
                for key in try store.apiKeys(tenant: tenant) {
                    let state = key.revokedAt.map { "revoked \($0.ISO8601Format())" } ?? "active"
                    let lastUsed = key.lastUsedAt?.ISO8601Format() ?? "never"
                    print("\(key.id)\t\(key.prefix)…\t\(state)\t\(lastUsed)\t\(key.name)")
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke an API key; it stops working at once.")

        @OptionGroup var options: ConfigOptions
        @Option(help: "The tenant id.") var tenant: String
        @Argument(help: "The key id (from 'keys list').") var keyID: String

        func run() async throws {
            try await options.withStore { store, _ in
                let key = try await store.revokeAPIKey(id: keyID, tenant: tenant)
                print("Revoked \(key.id).")
            }
        }
    }
}
