import SwitchboardCore

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
    /// The report as JSON: the query echoed, then `rows` of `{period, dimension, metrics}` and `totals`.
    ///
    /// `dimension` has the seed's push shape: `date` (the period's local start date) and the asked
    /// dimensions by their push keys (`agent_id`, `category`, `channel`), null for none. Written byte by
    /// byte: a year of hourly rows is too many for an `Encodable` tree within a report's budget.
    package var json: [UInt8] {
        var out = ReportWriter()
        out.raw("{\"type\":")
        out.string(query.type.name)
        out.raw(",\"start_date\":")
        out.string(query.startDate.description)
        out.raw(",\"end_date\":")
        out.string(query.endDate.description)
        out.raw(",\"granularity\":")
        out.string(query.granularity.name)
        out.raw(",\"timezone\":")
        out.string(query.timeZone.identifier)
        out.raw(",\"dimensions\":[")
        for (index, dimension) in query.dimensions.enumerated() {
            if index > 0 { out.raw(",") }
            out.string(dimension.name)
        }
        out.raw("],\"rows\":[")
        let metricNames = query.type.metrics.map { "\"\($0.name)\":" }
        let dimensionKeys = query.dimensions.map { ",\"\($0.key)\":" }
        func metrics(_ slots: [Double]) {
            out.raw("{")
            for (index, metric) in query.type.values(of: slots).enumerated() {
                if index > 0 { out.raw(",") }
                out.raw(metricNames[index])
                out.number(metric.value)
            }
            out.raw("}")
        }
        for (index, row) in rows.enumerated() {
            out.raw(index > 0 ? ",{\"period\":" : "{\"period\":")
            out.string(row.period)
            out.raw(",\"dimension\":{\"date\":")
            out.string(row.date.description)
            for (key, value) in zip(dimensionKeys, row.dimensions) {
                out.raw(key)
                if let value { out.string(value) } else { out.raw("null") }
            }
            out.raw("},\"metrics\":")
            metrics(row.slots)
            out.raw("}")
        }
        out.raw("],\"totals\":")
        metrics(totals)
        out.raw("}")
        return out.bytes
    }

    /// The report as CSV (RFC 4180): a header, then one line per row and a last `total` line.
    var csv: [UInt8] {
        var out = ReportWriter()
        func field(_ text: String) {
            guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return out.raw(text) }
            out.raw("\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"")
        }
        func line(_ leading: [String], _ slots: [Double]) {
            for (index, text) in leading.enumerated() {
                if index > 0 { out.raw(",") }
                field(text)
            }
            for metric in query.type.values(of: slots) {
                out.raw(",")
                if let value = metric.value { out.number(value) }
            }
            out.raw("\r\n")
        }
        let header = ["period", "date"] + query.dimensions.map(\.key) + query.type.metrics.map(\.name)
        out.raw(header.joined(separator: ",") + "\r\n")
        for row in rows {
            line([row.period, row.date.description] + row.dimensions.map { $0 ?? "" }, row.slots)
        }
        line(["total", ""] + query.dimensions.map { _ in "" }, totals)
        return out.bytes
    }
}

/// Appends JSON and CSV text to a byte buffer.
struct ReportWriter {
    private(set) var bytes: [UInt8] = []

    mutating func raw(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    /// A JSON string: quoted, with quotes, backslashes and control characters escaped.
    mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(byte)
            case 0..<0x20:
                bytes.append(contentsOf: "\\u00".utf8)
                bytes.append(Self.hexDigits[Int(byte >> 4)])
                bytes.append(Self.hexDigits[Int(byte & 0xF)])
            default:
                bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// A number with at most three decimals (figures are rounded to milliseconds), or `null`.
    mutating func number(_ value: Double?) {
        guard let value, value.isFinite else { return raw("null") }
        let thousandths = (value * 1_000).rounded()
        guard abs(thousandths) < 9e15 else { return raw(String(value)) }
        var scaled = Int64(thousandths)
        if scaled < 0 {
            bytes.append(UInt8(ascii: "-"))
            scaled = -scaled
        }
        integer(scaled / 1_000)
        var fraction = scaled % 1_000
        guard fraction > 0 else { return }
        bytes.append(UInt8(ascii: "."))
        var digits = 3
        while fraction % 10 == 0 {
            fraction /= 10
            digits -= 1
        }
        let text = String(fraction)
        bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: digits - text.utf8.count))
        bytes.append(contentsOf: text.utf8)
    }

    private mutating func integer(_ value: Int64) {
        guard value >= 10 else { return bytes.append(UInt8(ascii: "0") + UInt8(value)) }
        integer(value / 10)
        bytes.append(UInt8(ascii: "0") + UInt8(value % 10))
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)
}
