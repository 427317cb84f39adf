import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SwitchboardCore
import SwitchboardStore
import SwitchboardTestSupport
import Testing

@testable import SwitchboardServer

@Suite(.timeLimit(.minutes(5))) struct StatisticsTests {
    /// A generated month-and-more of conversations whose figures the test works out on its own.
    struct Dataset {
        struct Conversation {
            /// Dimension values from each time on: (time, agent, category, channel).
            var assignments: [(at: Int64, dimensions: [String])]
            var createdAt: Int64
            var visitor: String
            var messages: [(at: Int64, fromAgent: Bool)]
            var ticketAt: Int64?
            var endedAt: Int64?

            func dimensions(at time: Int64) -> [String] {
                assignments.last { $0.at <= time }!.dimensions
            }
        }

        /// One figure: where it counts and what it adds.
        struct Contribution {
            var at: Int64
            var dimensions: [String]
            var metric: String
            var amount: Double
        }

        var conversations: [Conversation] = []
        /// 2026-02-01T00:00:00Z, so the 60 days hold New York's switch to summer time on 2026-03-08.
        static let start: Int64 = 1_769_904_000
        static let days: Int64 = 60

        init(count: Int, seed: UInt64) {
            var random = SplitMix64(seed: seed)
            let agents = (0..<20).map { "agent-\($0)" }
            let categories = ["billing", "sales", "support", "returns", "other"]
            let channels = ["web", "email", "phone"]
            for index in 0..<count {
                let created: Int64 =
                    switch index % 50 {
                    // On the boundaries: UTC midnight, one second before it, New York and Shanghai midnights.
                    case 0: Self.start + Int64(random.next(Self.days)) * 86_400
                    case 1: Self.start + Int64(1 + random.next(Self.days - 1)) * 86_400 - 1
                    case 2: Self.start + Int64(random.next(Self.days - 1)) * 86_400 + 5 * 3_600
                    case 3: Self.start + Int64(1 + random.next(Self.days - 1)) * 86_400 - 8 * 3_600
                    default: Self.start + Int64(random.next(UInt64(Self.days) * 86_400 - 20_000))
                    }
                var conversation = Conversation(
                    assignments: [(created, [agents[Int(random.next(20))], categories[Int(random.next(5))], channels[Int(random.next(3))]])],
                    createdAt: created,
                    visitor: "visitor-\(index)",
                    messages: []
                )
                var time = created + Int64(random.next(600))
                conversation.messages.append((time, false))
                if random.next(10) < 8 {
                    time += Int64(random.next(900))
                    conversation.messages.append((time, true))
                }
                for _ in 0..<random.next(4) {
                    time += Int64(random.next(1_800))
                    conversation.messages.append((time, random.next(2) == 0))
                }
                if random.next(10) == 0 {
                    time += Int64(random.next(600))
                    var moved = conversation.assignments[0].dimensions
                    moved[0] = agents[Int(random.next(20))]
                    conversation.assignments.append((time, moved))
                    time += 1
                    conversation.messages.append((time, true))
                }
                if random.next(7) == 0 {
                    time += Int64(random.next(300))
                    conversation.ticketAt = time
                }
                if random.next(10) < 9 {
                    conversation.endedAt = time + Int64(random.next(7_200))
                }
                conversations.append(conversation)
            }
        }

        /// The events of every conversation, in commit order.
        func events() -> [(event: DomainEvent, timestamp: Int64)] {
            var events: [(order: (Int64, Int, Int), event: DomainEvent)] = []
            for (index, conversation) in conversations.enumerated() {
                let id = "conversation-\(index)"
                var step = 0
                func add(_ type: EventType, at time: Int64, _ data: [String: JSONValue]) {
                    events.append(((time, index, step), DomainEvent(type: type, data: .object(data))))
                    step += 1
                }
                func conversationData(at time: Int64) -> [String: JSONValue] {
                    let dimensions = conversation.dimensions(at: time)
                    return [
                        "conversation_id": .string(id), "visitor_id": .string(conversation.visitor), "agent_id": .string(dimensions[0]),
                        "category": .string(dimensions[1]), "channel": .string(dimensions[2]), "created_at": JSONValue(conversation.createdAt),
                    ]
                }
                var pending: [(at: Int64, add: () -> Void)] = []
                pending.append((conversation.createdAt, { add(.conversationCreated, at: conversation.createdAt, conversationData(at: conversation.createdAt)) }))
                for assignment in conversation.assignments.dropFirst() {
                    pending.append((assignment.at, { add(.conversationUpdated, at: assignment.at, conversationData(at: assignment.at)) }))
                }
                for message in conversation.messages {
                    let sender = message.fromAgent ? conversation.dimensions(at: message.at)[0] : conversation.visitor
                    pending.append((message.at, {
                        add(.messageReceived, at: message.at, ["conversation_id": .string(id), "from": .string(sender), "content": "hi"])
                    }))
                }
                if let ticket = conversation.ticketAt {
                    pending.append((ticket, { add(.ticketCreated, at: ticket, ["ticket_id": .string("ticket-\(index)"), "conversation_id": .string(id)]) }))
                }
                if let ended = conversation.endedAt {
                    pending.append((ended, { add(.conversationEnded, at: ended, conversationData(at: ended)) }))
                }
                for item in pending.enumerated().sorted(by: { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }) { item.element.add() }
            }
            return events.sorted { $0.order < $1.order }.map { ($0.event, $0.order.0) }
        }

        /// Every figure the report must count, worked out from the conversations rather than the events.
        func contributions() -> [Contribution] {
            var figures: [Contribution] = []
            for conversation in conversations {
                func add(_ metric: String, _ amount: Double, at time: Int64) {
                    figures.append(Contribution(at: time, dimensions: conversation.dimensions(at: time), metric: metric, amount: amount))
                }
                add("total", 1, at: conversation.createdAt)
                for message in conversation.messages { add("messages", 1, at: message.at) }
                if let first = conversation.messages.first(where: \.fromAgent) {
                    add("responded", 1, at: first.at)
                    add("first_response_time", Double(first.at - conversation.createdAt), at: first.at)
                }
                if let ticket = conversation.ticketAt { add("tickets_created", 1, at: ticket) }
                if let ended = conversation.endedAt {
                    let duration = Double(ended - conversation.createdAt)
                    add("closed", 1, at: ended)
                    add("avg_duration", duration, at: ended)
                    if conversation.ticketAt.map({ $0 > ended }) ?? true {
                        add("success", 1, at: ended)
                        add("resolution_time", duration, at: ended)
                    }
                }
            }
            return figures
        }
    }

    /// The expected report rows: period label and dimension values → metric → value.
    ///
    /// Periods come from Foundation's calendar, once per hour (the zones tested are whole hours off UTC).
    static func expectedRows(
        _ figures: [Dataset.Contribution],
        zone: TimeZone,
        granularity: Calendar.Component,
        dimensions: [Int],
        range: ClosedRange<Int64>
    ) -> [String: [String: Double]] {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        calendar.firstWeekday = 2
        calendar.minimumDaysInFirstWeek = 4
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = zone
        var labels: [Int64: String] = [:]
        var sums: [String: [String: Double]] = [:]
        for figure in figures where range.contains(figure.at) {
            let hour = figure.at / 3_600
            let label =
                labels[hour]
                ?? {
                    let start = calendar.dateInterval(of: granularity, for: Date(timeIntervalSince1970: Double(hour * 3_600)))!.start
                    labels[hour] = formatter.string(from: start)
                    return labels[hour]!
                }()
            var key = label
            for dimension in dimensions { key += "|" + figure.dimensions[dimension] }
            sums[key, default: [:]][figure.metric, default: 0] += figure.amount
        }
        return sums.mapValues { sums in
            var metrics = sums
            for (average, weight) in [("first_response_time", "responded"), ("resolution_time", "success"), ("avg_duration", "closed")] {
                metrics[average] = sums[average].map { $0 / sums[weight]! }
            }
            return metrics
        }
    }

    static func waitForRollups(_ store: SQLStore) async throws {
        let last = try await store.lastPosition()
        try await eventually(limit: .seconds(30)) { try await store.cursor(consumer: StatisticsIndex.consumer) == last }
    }

    @Test func reportsMatchKnownAnswersForEveryGranularityDimensionSetAndZone() async throws {
        let server = try await TestServer.make()
        let dataset = Dataset(count: 10_000, seed: 2026)
        let events = dataset.events()
        for chunk in stride(from: 0, to: events.count, by: 5_000) {
            try await server.store.importEvents(Array(events[chunk..<min(chunk + 5_000, events.count)]), tenant: server.tenantA.tenantID)
        }
        let figures = dataset.contributions()
        let dimensionNames = ["agent", "category", "channel"]
        let subsets: [[Int]] = [[], [0], [1], [2], [0, 1], [0, 2], [1, 2], [0, 1, 2]]
        let granularities: [(String, Calendar.Component)] = [("hour", .hour), ("day", .day), ("week", .weekOfYear), ("month", .month)]
        try await server.run { client in
            try await Self.waitForRollups(server.store)
            for zoneName in ["UTC", "America/New_York", "Asia/Shanghai", "+09:00"] {
                let zone = ReportQuery.zone(named: zoneName)!
                var calendar = Calendar(identifier: .gregorian)
                calendar.timeZone = zone
                // 2026-02-03 through 2026-03-29: a range starting mid-week, across New York's DST switch.
                let from = Int64(calendar.date(from: DateComponents(year: 2026, month: 2, day: 3))!.timeIntervalSince1970)
                let through = Int64(calendar.date(from: DateComponents(year: 2026, month: 3, day: 30))!.timeIntervalSince1970) - 1
                for (granularity, component) in granularities {
                    // Every dimension set in UTC; in the other zones none and all three.
                    for subset in subsets where zoneName == "UTC" || subset.count == 0 || (subset.count == 3 && granularity != "hour") {
                        let dimensions = subset.map { dimensionNames[$0] }.joined(separator: ",")
                        let zoneParameter = zoneName.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? zoneName
                        let uri = "/api/v1/statistics/report?type=conversation&start_date=2026-02-03&end_date=2026-03-29"
                            + "&granularity=\(granularity)&timezone=\(zoneParameter)&dimensions=\(dimensions)"
                        // Large answers as CSV, which is quicker to check; the rest as JSON.
                        let rows = try await Self.reportRows(client, uri, key: server.tenantA.key, asCSV: granularity == "hour" || granularity == "day")
                        let expected = Self.expectedRows(figures, zone: zone, granularity: component, dimensions: subset, range: from...through)
                        #expect(rows.count == expected.count + 1, "\(zoneName) \(granularity) \(dimensions)")
                        for (key, metrics) in rows {
                            if key == "total" {
                                let created = figures.filter { $0.metric == "total" && (from...through).contains($0.at) }.count
                                #expect(metrics["total"] == Double(created))
                                continue
                            }
                            guard let want = expected[key] else {
                                Issue.record("\(zoneName) \(granularity) \(dimensions): unexpected row \(key)")
                                continue
                            }
                            let wrong = StatisticType.conversation.metrics.map(\.name).filter { name in
                                switch (metrics[name] ?? nil, want[name]) {
                                case (let got?, let value?): abs(got - value) >= 0.001
                                case (let got?, nil): got != 0
                                case (nil, let value): value != nil
                                }
                            }
                            #expect(wrong.isEmpty, "\(zoneName) \(granularity) \(key): \(wrong) got \(metrics) want \(want)")
                        }
                    }
                }
            }
        }
    }

    /// A report's rows as "period|dimension values" → metric → value (nil for an empty average), plus a
    /// "total" row, read from its JSON or its CSV.
    static func reportRows(_ client: any TestClientProtocol, _ uri: String, key: String, asCSV: Bool) async throws -> [String: [String: Double?]] {
        var rows: [String: [String: Double?]] = [:]
        if asCSV {
            let response = try await client.execute(uri: uri, method: .get, headers: [.authorization: "Bearer \(key)", .accept: "text/csv"])
            #expect(response.status == .ok)
            let lines = String(buffer: response.body).split(separator: "\r\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
            let header = lines[0]
            let metricStart = header.firstIndex(of: "total")!
            for line in lines.dropFirst() {
                let key = line[0] == "total" ? "total" : ([line[0]] + line[2..<metricStart]).joined(separator: "|")
                rows[key] = Dictionary(uniqueKeysWithValues: zip(header[metricStart...], line[metricStart...]).map { ($0, Double($1)) })
            }
            return rows
        }
        let response = try await client.call(.get, uri, key: key)
        #expect(response.status == .ok, "\(uri): \(response.json)")
        let names = StatisticType.conversation.metrics.map(\.name)
        for row in response["rows"]!.array {
            let dimensions = response["dimensions"]!.array.compactMap(\.string).map { StatisticDimension(named: $0)!.key }
            let key = ([row["period"]!.string!] + dimensions.map { row["dimension"]![$0]!.string! }).joined(separator: "|")
            rows[key] = Dictionary(uniqueKeysWithValues: names.map { ($0, row["metrics"]![$0]!.numberValue) })
        }
        rows["total"] = Dictionary(uniqueKeysWithValues: names.map { ($0, response["totals"]![$0]!.numberValue) })
        return rows
    }

    @Test func pushedFiguresRoundTripReplaceOnRetryAndAddToComputedOnes() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let key = server.tenantA.key
            let seed: JSONValue = [
                "type": "conversation",
                "metrics": ["total": 10, "success": 8, "avg_duration": 120],
                "dimension": ["date": "2026-05-04", "agent_id": "agent-7"],
            ]
            for _ in 0..<3 {
                let pushed = try await client.call(.post, "/api/v1/statistics/push", key: key, json: seed)
                #expect(pushed.status == .ok)
                #expect(pushed["accepted"]?.int == 1)
            }
            let batch: JSONValue = [
                ["type": "call", "metrics": ["total": 4, "success": 3, "avg_duration": 60], "dimension": ["date": "2026-05-04", "channel": "phone"]],
                ["type": "call", "metrics": ["total": 6, "success": 6, "avg_duration": 90], "dimension": ["date": "2026-05-05", "channel": "phone"]],
                [
                    "type": "conversation", "metrics": ["total": 2, "closed": 2, "avg_duration": 30],
                    "dimension": ["date": "2026-05-04", "agent_id": "agent-7", "channel": "email"],
                ],
            ]
            #expect(try await client.call(.post, "/api/v1/statistics/push", key: key, json: batch)["accepted"]?.int == 3)

            let conversation = try await client.call(
                .get,
                "/api/v1/statistics/report?type=conversation&start_date=2026-05-01&end_date=2026-05-31&dimensions=agent",
                key: key
            )
            let rows = conversation["rows"]!.array
            #expect(rows.count == 1)
            #expect(rows.first?["period"]?.string == "2026-05-04T00:00:00Z")
            #expect(rows.first?["dimension"]?["agent_id"]?.string == "agent-7")
            #expect(rows.first?["dimension"]?["date"]?.string == "2026-05-04")
            // The seed push, three times, counts once and its average weighs by its total; the batch's entry,
            // for another channel, adds with its average weighed by its closed.
            let metrics = rows.first?["metrics"]
            #expect(metrics?["total"]?.int == 12)
            #expect(metrics?["success"]?.int == 8)
            let averageDuration: Double = (10 * 120 + 2 * 30) / 12
            #expect(metrics?["avg_duration"]?.numberValue == averageDuration)
            #expect(metrics?["first_response_time"] == .null)

            let calls = try await client.call(
                .get,
                "/api/v1/statistics/report?type=call&start_date=2026-05-01&end_date=2026-05-31&granularity=month&dimensions=channel",
                key: key
            )
            #expect(calls["rows"]!.array.count == 1)
            #expect(calls["totals"]?["total"]?.int == 10)
            let callDuration: Double = (3 * 60 + 6 * 90) / 9
            #expect(calls["totals"]?["avg_duration"]?.numberValue == callDuration)

            let csv = try await client.execute(
                uri: "/api/v1/statistics/report?type=call&start_date=2026-05-01&end_date=2026-05-31&dimensions=channel",
                method: .get,
                headers: [.authorization: "Bearer \(key)", .accept: "text/csv"]
            )
            #expect(csv.headers[.contentType] == "text/csv; charset=utf-8")
            #expect(
                String(buffer: csv.body) == """
                    period,date,channel,total,success,missed,avg_duration,avg_wait\r
                    2026-05-04T00:00:00Z,2026-05-04,phone,4,3,0,60,\r
                    2026-05-05T00:00:00Z,2026-05-05,phone,6,6,0,90,\r
                    total,,,10,9,0,80,\r

                    """
            )

            // Another tenant sees none of it.
            let other = try await client.call(.get, "/api/v1/statistics/report?type=call&start_date=2026-05-01&end_date=2026-05-31", key: server.tenantB.key)
            #expect(other["rows"]!.array.isEmpty)
        }
    }

    @Test func conversationsAndTicketsOverRESTShowUpInTodaysReport() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let fixtures = Fixtures(client: client, key: server.tenantA.key)
            let (conversation, visitor, agent) = try await fixtures.conversation()
            _ = try await fixtures.message(in: conversation, from: visitor)
            _ = try await fixtures.message(in: conversation, from: agent)
            #expect(try await client.call(.delete, "/api/v1/conversations/\(conversation)", key: server.tenantA.key).status == .ok)
            // A second conversation of the same agent gets a ticket before it ends: closed, but no success.
            let second = try #require(
                try await client.call(.post, "/api/v1/conversations", key: server.tenantA.key, json: ["visitor_id": .string(visitor), "agent_id": .string(agent)])["id"]?.string
            )
            let ticket = try await client.call(.post, "/api/v1/tickets", key: server.tenantA.key, json: ["title": "Refund", "content": "x", "conversation_id": .string(second)])
            #expect(ticket.status == .created)
            #expect(try await client.call(.delete, "/api/v1/conversations/\(second)", key: server.tenantA.key).status == .ok)
            try await Self.waitForRollups(server.store)
            let today = LocalDate(dayNumber: Int64(Date().timeIntervalSince1970) / 86_400)
            let report = try await client.call(
                .get,
                "/api/v1/statistics/report?type=conversation&start_date=\(today.adding(days: -1))&end_date=\(today.adding(days: 1))&dimensions=agent,channel",
                key: server.tenantA.key
            )
            let rows = report["rows"]!.array
            #expect(rows.count == 1)
            #expect(rows.first?["dimension"]?["agent_id"]?.string == agent)
            #expect(rows.first?["dimension"]?["channel"]?.string == "web")
            let metrics = rows.first?["metrics"]
            #expect(metrics?["total"]?.int == 2)
            #expect(metrics?["closed"]?.int == 2)
            #expect(metrics?["success"]?.int == 1)
            #expect(metrics?["tickets_created"]?.int == 1)
            #expect(metrics?["messages"]?.int == 2)
            #expect(metrics?["responded"]?.int == 1)
        }
    }

    @Test func agentsSeeTheirOwnFiguresAndSupervisorsTheTenants() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let admin = server.tenantA.key
            let secret = try #require(
                try await client.call(.post, "/api/v1/token-issuers", key: admin, json: ["issuer": "https://shop.example", "audience": "support", "kind": "hs256"])["secret"]?.string
            )
            let ada = try #require(try await client.call(.post, "/api/v1/agents", key: admin, json: ["name": "Ada"])["id"]?.string)
            let sue = try #require(try await client.call(.post, "/api/v1/agents", key: admin, json: ["name": "Sue", "role": "supervisor"])["id"]?.string)
            let entries: JSONValue = .array(
                [ada, "someone-else"].map { agent in
                    ["type": "call", "metrics": ["total": 5], "dimension": ["date": "2026-06-01", "agent_id": .string(agent)]]
                }
            )
            #expect(try await client.call(.post, "/api/v1/statistics/push", key: admin, json: entries)["accepted"]?.int == 2)
            let mint = """
                import sys, time, jwt
                secret = sys.argv[1]
                now = int(time.time())
                for role, sub in zip(sys.argv[2::2], sys.argv[3::2]):
                    print(jwt.encode({"iss": "https://shop.example", "aud": "support", "sub": sub, "role": role, "scope": "statistics:read",
                                      "exp": now + 300}, secret, algorithm="HS256"))
                """
            let minted = try await PythonScript.run(mint, [secret, "agent", ada, "agent", sue, "visitor", "shop-user-1"])
            let tokens = minted.output.split(separator: "\n").map(String.init)
            try #require(tokens.count == 3, "\(minted)")
            let uri = "/api/v1/statistics/report?type=call&start_date=2026-06-01&end_date=2026-06-30&dimensions=agent"
            func agents(_ token: String) async throws -> [String] {
                try await client.call(.get, uri, key: token)["rows"]!.array.compactMap { $0["dimension"]?["agent_id"]?.string }
            }
            #expect(try await agents(tokens[0]) == [ada])
            #expect(try await agents(tokens[1]).sorted() == [ada, "someone-else"].sorted())
            #expect(try await client.call(.get, uri, key: tokens[2]).status == .forbidden)
            #expect(try await client.call(.post, "/api/v1/statistics/push", key: tokens[0], json: entries).status == .forbidden)
        }
    }

    @Test func aBatchCountsOnceEvenWhenHandedOverAgain() async throws {
        let server = try await TestServer.make()
        defer { server.store.close() }
        let dataset = Dataset(count: 50, seed: 7)
        try await server.store.importEvents(dataset.events(), tenant: server.tenantA.tenantID)
        let events = try await server.store.events(afterPosition: 0, limit: 10_000)
        let index = StatisticsIndex(store: server.store)
        let aggregator = StatisticsAggregator(log: server.store, store: server.store, index: index, batchSize: 100, logger: testLogger)
        try await aggregator.ingest(Array(events.prefix(100)))
        let before = try await index.table(tenant: server.tenantA.tenantID)
        // A crash after the commit but before the consumer saved its cursor hands the same batch over
        // again; a server that held the statistics lease before another took it may hand over one that
        // overlaps what the other counted. Neither counts: the consumer reads on from the stored cursor.
        await #expect(throws: EventLogConsumer.CursorMoved.self) { try await aggregator.ingest(Array(events.prefix(100))) }
        await #expect(throws: EventLogConsumer.CursorMoved.self) { try await aggregator.ingest(Array(events.prefix(150))) }
        try await aggregator.ingest(Array(events.dropFirst(100)))
        let reloaded = try await server.store.rollupTable(tenant: server.tenantA.tenantID, type: .conversation, consumer: StatisticsIndex.consumer)
        let live = try await index.table(tenant: server.tenantA.tenantID)
        #expect(before.count > 0)
        #expect(reloaded.position == events.last?.position)
        #expect(live.position == reloaded.position)
        #expect(live.totals == reloaded.totals)
        #expect(reloaded.totals[0] == 50)
    }

    @Test func badReportsAndPushesGet422NamingTheParameter() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let key = server.tenantA.key
            let base = "/api/v1/statistics/report?"
            let reports: [(String, String)] = [
                ("type=nope&start_date=2026-01-01&end_date=2026-01-02", "type"),
                ("start_date=2026-01-01&end_date=2026-01-02", "type"),
                ("type=conversation&start_date=2026-01-05&end_date=2026-01-02", "start_date"),
                ("type=conversation&start_date=2025-01-01&end_date=2026-01-02", "end_date"),
                ("type=conversation&start_date=2026-13-01&end_date=2026-12-02", "start_date"),
                ("type=conversation&start_date=2026-02-30&end_date=2026-03-02", "start_date"),
                ("type=conversation&start_date=2026-01-01&end_date=20260102", "end_date"),
                ("type=conversation&start_date=2026-01-01", "end_date"),
                ("type=conversation&start_date=2026-01-01&end_date=2026-01-02&dimensions=agent,planet", "dimensions"),
                ("type=conversation&start_date=2026-01-01&end_date=2026-01-02&dimensions=agent,agent", "dimensions"),
                ("type=conversation&start_date=2026-01-01&end_date=2026-01-02&granularity=minute", "granularity"),
                ("type=conversation&start_date=2026-01-01&end_date=2026-01-02&timezone=Mars/Olympus", "timezone"),
            ]
            for (query, field) in reports {
                let response = try await client.call(.get, base + query, key: key)
                #expect(response.status == .unprocessableContent, "\(query)")
                #expect(response["field"]?.string == field, "\(query): \(response.json)")
                #expect(response.headers[.contentType] == "application/problem+json")
            }
            let pushes: [(JSONValue, String)] = [
                (["type": "weather", "metrics": ["total": 1], "dimension": ["date": "2026-01-01"]], "type"),
                (["type": "call", "metrics": ["talks": 1], "dimension": ["date": "2026-01-01"]], "metrics.talks"),
                (["type": "call", "metrics": ["total": -1], "dimension": ["date": "2026-01-01"]], "metrics.total"),
                (["type": "call", "metrics": ["total": "3"], "dimension": ["date": "2026-01-01"]], "metrics.total"),
                (["type": "call", "metrics": [:], "dimension": ["date": "2026-01-01"]], "metrics"),
                (["type": "call", "metrics": ["total": 1], "dimension": ["date": "01/02/2026"]], "dimension.date"),
                (["type": "call", "metrics": ["total": 1], "dimension": ["agent_id": "a"]], "dimension.date"),
                (["type": "call", "metrics": ["total": 1], "dimension": ["date": "2026-01-01", "planet": "mars"]], "dimension.planet"),
                (["type": "call", "metrics": ["total": 1], "dimension": ["date": "2026-01-01"], "extra": 1], "extra"),
                ([["type": "call", "metrics": ["total": 1], "dimension": ["date": "2026-01-01"]], ["type": "call"]], "[1].metrics"),
                ([], "body"),
            ]
            for (body, field) in pushes {
                let response = try await client.call(.post, "/api/v1/statistics/push", key: key, json: body)
                #expect(response.status == .unprocessableContent, "\(body)")
                #expect(response["field"]?.string == field, "\(body): \(response.json)")
            }
            // Nothing of a refused batch was stored.
            let calls = try await client.call(.get, base + "type=call&start_date=2026-01-01&end_date=2026-01-31", key: key)
            #expect(calls["rows"]!.array.isEmpty)
            let malformed = try await client.execute(
                uri: "/api/v1/statistics/push",
                method: .post,
                headers: [.authorization: "Bearer \(key)", .contentType: "application/json"],
                body: ByteBuffer(string: "{\"type\":")
            )
            #expect(malformed.status == .badRequest)
        }
    }
}

/// A small deterministic generator (SplitMix64), so the dataset is the same on every run.
struct SplitMix64 {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    /// A value in `0..<bound`.
    mutating func next(_ bound: some BinaryInteger) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return (z ^ (z >> 31)) % UInt64(bound)
    }
}

extension RollupTable {
    /// Every slot summed over all cells of 2026.
    var totals: [Double] {
        let year = ReportQuery(
            type: .conversation,
            startDate: LocalDate("2026-01-01")!,
            endDate: LocalDate("2026-12-31")!,
            granularity: .month,
            timeZone: TimeZone(identifier: "UTC")!,
            dimensions: []
        )
        return StatisticsReport(query: year, computed: self, pushed: []).totals
    }
}
