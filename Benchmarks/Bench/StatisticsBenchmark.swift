import Foundation
import Logging
import SwitchboardCore
import SwitchboardServer

/// Measures the statistics path on a generated history: how fast the aggregator rolls the event log up,
/// and how long a report over it takes, each against a baseline measured in the same run.
enum StatisticsBenchmark {
    /// The figures of one run.
    struct Report: Sendable {
        var events: Int
        var days: Int
        var cells: Int
        /// Events per second: reading the log alone (baseline), and reading it plus rolling up and committing.
        var logReadRate: Double
        var ingestionRate: Double
        /// Milliseconds per report (median), by name: the index, and reading the tenant's rollup rows from
        /// the database (baseline: what any report straight from the rollup table costs at least).
        var reports: [(name: String, milliseconds: Double, rows: Int)]
        var tableReadMilliseconds: Double
    }

    /// Generates `conversations` conversations of eight events each (created, six messages, ended; one in
    /// seven gets a ticket instead of its last message) spread over `days` days up to now, rolls them up
    /// and runs reports over the whole range.
    static func run(store: any SwitchboardStorage, conversations: Int, days: Int, rounds: Int = 7, logger: Logger) async throws -> Report {
        let tenant = try await store.createTenant(name: "Bench").id
        let end = Int64(Date().timeIntervalSince1970) / 86_400 * 86_400
        let start = end - Int64(days) * 86_400
        var random = SystemRandomNumberGenerator()
        var history: [(event: DomainEvent, timestamp: Int64)] = []
        history.reserveCapacity(conversations * 8)
        let categories = ["billing", "sales", "support", "returns", "other"]
        let channels = ["web", "email", "phone"]
        for index in 0..<conversations {
            let created = start + Int64(index) * (end - start - 7_200) / Int64(conversations)
            let id = "c\(index)"
            let visitor = "v\(index)"
            let agent = "agent-\(Int.random(in: 0..<20, using: &random))"
            let conversation: JSONValue = [
                "conversation_id": .string(id), "visitor_id": .string(visitor), "agent_id": .string(agent),
                "category": .string(categories.randomElement(using: &random)!), "channel": .string(channels.randomElement(using: &random)!),
                "created_at": JSONValue(created),
            ]
            history.append((DomainEvent(type: .conversationCreated, data: conversation), created))
            var time = created
            for message in 0..<6 {
                time += Int64.random(in: 1...600, using: &random)
                if message == 5, index % 7 == 0 {
                    history.append((DomainEvent(type: .ticketCreated, data: ["ticket_id": .string("t\(index)"), "conversation_id": .string(id)]), time))
                    continue
                }
                let data: JSONValue = [
                    "conversation_id": .string(id), "from": .string(message.isMultiple(of: 2) ? visitor : agent), "content": "Where is my order?",
                ]
                history.append((DomainEvent(type: .messageReceived, data: data), time))
            }
            history.append((DomainEvent(type: .conversationEnded, data: conversation), time + 60))
        }
        // Conversations overlap: the log holds their events in time order.
        history.sort { $0.timestamp < $1.timestamp }
        for chunk in stride(from: 0, to: history.count, by: 10_000) {
            try await store.importEvents(Array(history[chunk..<min(chunk + 10_000, history.count)]), tenant: tenant)
        }

        let batchSize = 1_024
        var position: Int64 = 0
        let readStart = ContinuousClock.now
        while let last = try await store.events(afterPosition: position, limit: batchSize).last { position = last.position }
        let readTime = ContinuousClock.now - readStart

        let index = StatisticsIndex(store: store)
        let aggregator = StatisticsAggregator(log: store, store: store, index: index, batchSize: batchSize, logger: logger)
        position = 0
        let ingestStart = ContinuousClock.now
        while true {
            let batch = try await store.events(afterPosition: position, limit: batchSize)
            guard let last = batch.last else { break }
            try await aggregator.ingest(batch)
            position = last.position
        }
        let ingestTime = ContinuousClock.now - ingestStart

        func median(_ body: () async throws -> Int) async rethrows -> (Double, Int) {
            var times: [Double] = []
            var rows = 0
            for _ in 0..<rounds {
                let begin = ContinuousClock.now
                rows = try await body()
                times.append((ContinuousClock.now - begin) / .milliseconds(1))
            }
            return (times.sorted()[rounds / 2], rows)
        }
        let (tableRead, cells) = try await median {
            try await store.rollupTable(tenant: tenant, type: .conversation, consumer: StatisticsIndex.consumer).count
        }
        let first = LocalDate(dayNumber: start / 86_400)
        let last = LocalDate(dayNumber: end / 86_400 - 1)
        let queries: [(String, ReportQuery.Granularity, String, [StatisticDimension])] = [
            ("day by agent and category, UTC", .day, "UTC", [.agent, .category]),
            ("day by agent and category, New York", .day, "America/New_York", [.agent, .category]),
            ("hour, no dimensions", .hour, "UTC", []),
            ("week by all three", .week, "UTC", [.agent, .category, .channel]),
            ("month, no dimensions", .month, "Europe/Berlin", []),
        ]
        var reports: [(name: String, milliseconds: Double, rows: Int)] = []
        for (name, granularity, zone, dimensions) in queries {
            let query = ReportQuery(type: .conversation, startDate: first, endDate: last, granularity: granularity, timeZone: TimeZone(identifier: zone)!, dimensions: dimensions)
            let (time, rows) = try await median {
                let report = try await index.report(query, tenant: tenant, agent: nil)
                _ = report.json
                return report.rows.count
            }
            reports.append((name, time, rows))
        }
        return Report(
            events: history.count,
            days: days,
            cells: cells,
            logReadRate: Double(history.count) / (readTime / .seconds(1)),
            ingestionRate: Double(history.count) / (ingestTime / .seconds(1)),
            reports: reports,
            tableReadMilliseconds: tableRead
        )
    }
}
