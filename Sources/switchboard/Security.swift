import ArgumentParser
import Foundation
import Logging
import SwitchboardCore
import SwitchboardServer

struct Security: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Measure the security envelope.", subcommands: [Bench.self])

    struct Bench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Per-request cost of API-key authentication, rate limiting and the scope check over a public route (scripts/bench)."
        )

        @Option(help: "Requests per round and route.") var requests: Int = 50_000

        func run() async throws {
            // The server's own log handler, whose metadata the envelope sets on every request.
            let logger = Logger(label: "switchboard.bench") { StandardErrorLogHandler(label: $0, logLevel: .error) }
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-bench-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let store = try StoreFactory.open(DatabaseSettings(path: directory + "/bench.sqlite", synchronous: .normal), logger: logger)
            defer { store.close() }
            let report = try await SecurityBenchmark.run(store: store, requests: requests, logger: logger)
            func line(_ name: String, _ nanoseconds: Double, _ note: String) {
                print(name.padding(toLength: 44, withPad: " ", startingAt: 0) + String(format: "%10.2f µs", nanoseconds / 1_000) + "   " + note)
            }
            print("Security envelope, \(requests) requests per round, median of 7 rounds")
            line("public route (baseline)", report.publicRoute, "")
            line("API key + rate limits + scope", report.authenticatedRoute, "")
            line("  overhead over the baseline", report.overhead, "target <= 5 µs")
        }
    }
}
