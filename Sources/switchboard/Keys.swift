import ArgumentParser
import Foundation
import SwitchboardCore

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage a tenant's API keys.",
        subcommands: [Create.self, List.self, Rotate.self, Revoke.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an API key and print its secret, once.")

        @OptionGroup var options: ConfigOptions
        @Option(help: "The tenant id.") var tenant: String
        @Option(help: "A name to recognise the key by.") var name: String = "cli"
        @Option(name: .customLong("scope"), help: "A scope the key holds (repeatable), e.g. messages:write; 'admin' holds all.")
        var scopes: [String] = ["admin"]
        @Option(help: "Days until the key expires; unset: never.") var expiresInDays: Int?
        @Option(name: .customLong("allow-ip"), help: "An address or CIDR range the key may be used from (repeatable); unset: anywhere.")
        var allowedIPs: [String] = []
        @Option(help: "Requests per minute for this key; unset: the server's default.") var rateLimit: Int?

        func run() async throws {
            let settings: APIKeySettings
            do {
                settings = APIKeySettings(
                    name: name,
                    scopes: Set(try scopes.map { try Scope.parse($0, field: "--scope") }),
                    expiresAt: expiresInDays.map { Date().addingTimeInterval(Double($0) * 86_400) },
                    allowedIPs: try allowedIPs.map { try IPAddressRange(parsing: $0, field: "--allow-ip") },
                    rateLimit: rateLimit
                )
            } catch let error as SwitchboardError {
                throw ValidationError(error.detail)
            }
            if let expiresInDays, expiresInDays < 1 { throw ValidationError("--expires-in-days must be at least 1.") }
            if let rateLimit, rateLimit < 1 { throw ValidationError("--rate-limit must be at least 1 request per minute.") }
            try await options.withStore { store, _ in
                let (key, secret) = try await store.createAPIKey(tenant: tenant, settings: settings)
                FileHandle.standardError.write(Data("Created key \(key.id). The secret below is shown only once.\n".utf8))
                print(secret)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a tenant's keys: id, prefix, state, last use, scopes, name.")

        @OptionGroup var options: ConfigOptions
        @Option(help: "The tenant id.") var tenant: String

        func run() async throws {
            try await options.withStore { store, _ in
                guard try await store.tenant(id: tenant) != nil else { throw ValidationError("No tenant has the id '\(tenant)'.") }
                for key in try await store.apiKeys(tenant: tenant) {
                    let state =
                        key.revokedAt.map { "revoked \($0.ISO8601Format())" }
                        ?? key.expiresAt.map { $0 > Date() ? "expires \($0.ISO8601Format())" : "expired \($0.ISO8601Format())" } ?? "active"
                    let lastUsed = key.lastUsedAt?.ISO8601Format() ?? "never"
                    let scopes = key.scopes.sorted().map(\.name).joined(separator: ",")
                    print("\(key.id)\t\(key.prefix)…\t\(state)\t\(lastUsed)\t\(scopes)\t\(key.name)")
                }
            }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give an API key a new secret and print it, once; the old secret stops working (within 1 s on a running server)."
        )

        @OptionGroup var options: ConfigOptions
        @Option(help: "The tenant id.") var tenant: String
        @Argument(help: "The key id (from 'keys list').") var keyID: String

        func run() async throws {
            try await options.withStore { store, _ in
                let (key, secret) = try await store.rotateAPIKey(id: keyID, tenant: tenant)
                FileHandle.standardError.write(Data("Rotated key \(key.id). The secret below is shown only once.\n".utf8))
                print(secret)
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke an API key; it stops working (within 1 s on a running server).")

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
