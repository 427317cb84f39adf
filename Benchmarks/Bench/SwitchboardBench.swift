import ArgumentParser
import Foundation
import Logging
import SwitchboardCore
import SwitchboardServer

/// `switchboard-bench`: the benchmarks `scripts/bench` runs, outside the product so that the
/// `switchboard` binary carries no benchmark code. Each runs on a throwaway SQLite database.
@main
struct SwitchboardBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchboard-bench",
        abstract: "Switchboard's in-process benchmarks (scripts/bench runs them with the HTTP ones).",
        subcommands: [Security.self, Statistics.self, Plugins.self]
    )

    /// Runs `body` with a store on a new database in a temporary folder, removed afterwards; SIGPIPE is
    /// ignored, as `switchboard` does.
    static func withStore<Result>(_ logger: Logger, _ body: (any SwitchboardStorage) async throws -> Result) async throws -> Result {
        // A subprocess plugin child that ends while a frame is on its way must not end the benchmark.
        signal(SIGPIPE, SIG_IGN)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-bench-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try StoreFactory.open(DatabaseSettings(path: directory + "/bench.sqlite", synchronous: .normal), logger: logger)
        defer { store.close() }
        return try await body(store)
    }

    /// A line of a report: name, microseconds, note.
    static func line(_ name: String, _ nanoseconds: Double, _ note: String) {
        print(name.padding(toLength: 44, withPad: " ", startingAt: 0) + String(format: "%10.2f µs", nanoseconds / 1_000) + "   " + note)
    }

    struct Security: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Per-request cost of API-key authentication, rate limiting and the scope check over a public route."
        )

        @Option(help: "Requests per round and route.") var requests: Int = 50_000

        func run() async throws {
            // The server's own log handler, whose metadata the envelope sets on every request.
            let logger = Logger(label: "switchboard.bench") { StandardErrorLogHandler(label: $0, logLevel: .error) }
            let report = try await withStore(logger) { try await SecurityBenchmark.run(store: $0, requests: requests, logger: logger) }
            print("Security envelope, \(requests) requests per round, median of 7 rounds")
            line("public route (baseline)", report.publicRoute, "")
            line("API key + rate limits + scope", report.authenticatedRoute, "")
            line("  overhead over the baseline", report.overhead, "target <= 5 µs")
        }
    }

    struct Statistics: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Rollup ingestion rate and report latency over a generated history.")

        @Option(help: "Conversations to generate; each has eight events.") var conversations: Int = 125_000
        @Option(help: "Days the history spans, up to today.") var days: Int = 90

        func run() async throws {
            guard conversations > 0, (1...366).contains(days) else {
                throw ValidationError("--conversations must be positive and --days from 1 to 366.")
            }
            let logger = Logger(label: "switchboard.bench") { StandardErrorLogHandler(label: $0, logLevel: .error) }
            let report = try await withStore(logger) { try await StatisticsBenchmark.run(store: $0, conversations: conversations, days: days, logger: logger) }
            print("Statistics, \(report.events) events over \(report.days) days, \(report.cells) hourly cells")
            print(String(format: "  reading the log alone (baseline)          %10.0f events/s", report.logReadRate))
            print(
                String(
                    format: "  reading + rollup + commit                  %10.0f events/s   %.2fx the baseline, target >= 30000",
                    report.ingestionRate,
                    report.ingestionRate / report.logReadRate
                )
            )
            print(String(format: "  reading the rollup rows (baseline)         %10.2f ms", report.tableReadMilliseconds))
            for (name, milliseconds, rows) in report.reports {
                print(
                    "  report: " + name.padding(toLength: 34, withPad: " ", startingAt: 0)
                        + String(format: "%10.2f ms   %.2fx the baseline, %d rows, target <= 50 ms", milliseconds, milliseconds / report.tableReadMilliseconds, rows)
                )
            }
        }
    }

    struct Plugins: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Per-event dispatch and host-service cost with a plugin that has the fixture.kv call."
        )

        @Argument(help: "A plugin built from Tests/Fixtures/plugins/fixture.c.") var file: String
        @Option(help: "Operations per measurement.") var events: Int = 20_000
        @Option(help: "The switchboard binary, whose plugin-host command runs the subprocess instance; by default the one beside this program.")
        var host: String?

        func run() async throws {
            var logger = Logger(label: "switchboard.bench")
            logger.logLevel = .error
            let beside = URL(fileURLWithPath: Bundle.main.executablePath ?? CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("switchboard").path
            let executable = host ?? beside
            guard FileManager.default.isExecutableFile(atPath: executable) else {
                throw ValidationError("No switchboard binary at \(executable): build it (swift build -c release --product switchboard) or pass --host.")
            }
            let report = try await withStore(logger) { store in
                let tenant = try await store.createTenant(name: "Bench").id
                return try await PluginBenchmark.run(path: file, events: events, store: store, tenant: tenant, executable: executable, logger: logger)
            }
            print("Plugin dispatch, \(events) operations each")
            line("on_event called directly (baseline)", report.directEvent, "")
            line("in-process delivery", report.inProcessEvent, "")
            line("  overhead over the baseline", report.inProcessEvent - report.directEvent, "target <= 1 µs")
            line("subprocess delivery", report.subprocessEvent, "")
            line("  overhead over the baseline", report.subprocessEvent - report.directEvent, "target <= 30 µs")
            line("kv_get round trip, in process", report.inProcessKVRoundTrip, "")
            line("kv_get round trip, from a subprocess", report.subprocessKVRoundTrip, "")
        }
    }
}
