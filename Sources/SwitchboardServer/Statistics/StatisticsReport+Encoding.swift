import SwitchboardCore

/// The JSON of a report: the query echoed, then `rows` of `{period, dimension, metrics}` and `totals`.
///
/// `dimension` has the seed's push shape: `date` (the period's local start date) and the asked
/// dimensions by their push keys (`agent_id`, `category`, `channel`), null for none.
struct ReportBody: Encodable {
    let report: StatisticsReport

    enum CodingKeys: String, CodingKey {
        case type, granularity, timezone, dimensions, rows, totals
        case startDate = "start_date"
        case endDate = "end_date"
    }

    func encode(to encoder: any Encoder) throws {
        let query = report.query
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(query.type.name, forKey: .type)
        try container.encode(query.startDate.description, forKey: .startDate)
        try container.encode(query.endDate.description, forKey: .endDate)
        try container.encode(query.granularity.name, forKey: .granularity)
        try container.encode(query.timeZone.identifier, forKey: .timezone)
        try container.encode(query.dimensions.map(\.name), forKey: .dimensions)
        try container.encode(report.rows.map { RowBody(row: $0, report: report) }, forKey: .rows)
        try container.encode(MetricsBody(metrics: report.query.type.values(of: report.totals)), forKey: .totals)
    }

    struct RowBody: Encodable {
        let row: StatisticsReport.Row
        let report: StatisticsReport

        enum CodingKeys: String, CodingKey {
            case period, dimension, metrics
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(row.period, forKey: .period)
            var dimension = container.nestedContainer(keyedBy: AnyCodingKey.self, forKey: .dimension)
            try dimension.encode(row.date.description, forKey: AnyCodingKey("date"))
            for (asked, value) in zip(report.query.dimensions, row.dimensions) {
                try dimension.encode(value, forKey: AnyCodingKey(asked.key))
            }
            try container.encode(MetricsBody(metrics: report.query.type.values(of: row.slots)), forKey: .metrics)
        }
    }

    struct MetricsBody: Encodable {
        let metrics: [(name: String, value: Double?)]

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: AnyCodingKey.self)
            for (name, value) in metrics {
                if let value, value.rounded() == value, abs(value) < 9_007_199_254_740_992 {
                    try container.encode(Int64(value), forKey: AnyCodingKey(name))
                } else {
                    try container.encode(value, forKey: AnyCodingKey(name))
                }
            }
        }
    }
}

/// The statistics registry as `GET /statistics/types` shows it.
struct TypesBody: Encodable {
    enum CodingKeys: String, CodingKey {
        case types, dimensions
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(StatisticType.all.map(TypeBody.init), forKey: .types)
        try container.encode(StatisticDimension.all.map { ["name": $0.name, "key": $0.key] }, forKey: .dimensions)
    }

    struct TypeBody: Encodable {
        let type: StatisticType

        enum CodingKeys: String, CodingKey {
            case name, summary, computed, metrics
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(type.name, forKey: .name)
            try container.encode(type.summary, forKey: .summary)
            try container.encode(type.isComputed, forKey: .computed)
            try container.encode(
                type.metrics.map { metric -> [String: String] in
                    switch metric.kind {
                    case .count: ["name": metric.name, "kind": "count", "summary": metric.summary]
                    case .average(let weight): ["name": metric.name, "kind": "average", "weight": weight, "summary": metric.summary]
                    }
                },
                forKey: .metrics
            )
        }
    }
}

extension StatisticsReport {
    /// The report as CSV (RFC 4180): a header, then one line per row and a last `total` line.
    var csv: String {
        var lines: [[String]] = [["period", "date"] + query.dimensions.map(\.key) + query.type.metrics.map(\.name)]
        func cells(_ metrics: [(name: String, value: Double?)]) -> [String] {
            metrics.map { metric in
                guard let value = metric.value else { return "" }
                return value.rounded() == value && abs(value) < 9_007_199_254_740_992 ? String(Int64(value)) : String(value)
            }
        }
        for row in rows {
            lines.append([row.period, row.date.description] + row.dimensions.map { $0 ?? "" } + cells(query.type.values(of: row.slots)))
        }
        lines.append(["total", ""] + query.dimensions.map { _ in "" } + cells(query.type.values(of: totals)))
        return lines.map { $0.map(Self.csvField).joined(separator: ",") }.joined(separator: "\r\n") + "\r\n"
    }

    private static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
