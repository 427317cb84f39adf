import ArgumentParser
import Foundation
import Logging
import SwitchboardCore
import SwitchboardServer

struct Statistics: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Measure the statistics rollups and reports.", subcommands: [Bench.self])

    struct Bench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rollup ingestion rate and report latency over a generated history (scripts/bench)."
        )

        @Option(help: "Conversations to generate; each has eight events.") var conversations: Int = 125_000
        @Option(help: "Days the history spans, up to today.") var days: Int = 90

        func run() async throws {
            guard conversations > 0, (1...366).contains(days) else {
                throw ValidationError("--conversations must be positive and --days from 1 to 366.")
            }
            let logger = Logger(label: "switchboard.bench") { StandardErrorLogHandler(label: $0, logLevel: .error) }
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-bench-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let store = try StoreFactory.open(DatabaseSettings(path: directory + "/bench.sqlite", synchronous: .normal), logger: logger)
            defer { store.close() }
            let report = try await StatisticsBenchmark.run(store: store, conversations: conversations, days: days, logger: logger)
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
}
