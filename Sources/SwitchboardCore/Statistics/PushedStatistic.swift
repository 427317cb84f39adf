/// Figures another system pushed for one type, day and set of dimension values.
///
/// Pushing the same type, date and dimension values again replaces the earlier figures, so a retried
/// push never counts twice.
public struct PushedStatistic: Hashable, Sendable {
    /// The most entries one push request may carry.
    public static let maxBatch = 1_000

    public var type: StatisticType
    /// The calendar day the figures belong to.
    public var date: LocalDate
    /// Agent id, category and channel ("" for none), in `StatisticDimension.index` order.
    public var dimensions: [String]
    /// Metric name to value.
    public var metrics: [String: Double]

    /// Creates pushed figures.
    public init(type: StatisticType, date: LocalDate, dimensions: [String], metrics: [String: Double]) {
        self.type = type
        self.date = date
        self.dimensions = dimensions
        self.metrics = metrics
    }

    /// Validates one entry of a push: `{"type", "metrics": {...}, "dimension": {"date", ...}}`.
    /// - Parameter path: the entry's place in the request, prefixed to field names in errors ("" or "[3].").
    /// - Throws: `invalid_field` or `missing_field` naming the field.
    public init(json: JSONValue, path: String = "") throws {
        guard case .object(let entry) = json else {
            throw SwitchboardError.invalidField(path.isEmpty ? "body" : String(path.dropLast()), "A statistics entry must be a JSON object.")
        }
        if let unknown = entry.keys.sorted().first(where: { !["type", "metrics", "dimension"].contains($0) }) {
            throw SwitchboardError.invalidField(path + unknown, "The field '\(path + unknown)' is not accepted here.")
        }
        guard let typeName = entry["type"] else { throw SwitchboardError.missingField(path + "type") }
        guard let type = typeName.stringValue.flatMap(StatisticType.init(named:)) else {
            throw SwitchboardError.invalidField(path + "type", "Unknown statistics type; known types: \(StatisticType.all.map(\.name).joined(separator: ", ")).")
        }
        guard let metricsValue = entry["metrics"] else { throw SwitchboardError.missingField(path + "metrics") }
        guard case .object(let metricObject) = metricsValue, !metricObject.isEmpty else {
            throw SwitchboardError.invalidField(path + "metrics", "'metrics' must be an object with at least one metric.")
        }
        var metrics: [String: Double] = [:]
        for (name, value) in metricObject.sorted(by: { $0.key < $1.key }) {
            guard type.metric(named: name) != nil else {
                throw SwitchboardError.invalidField(
                    path + "metrics." + name,
                    "'\(name)' is not a metric of '\(type.name)'; its metrics: \(type.metrics.map(\.name).joined(separator: ", "))."
                )
            }
            guard let number = value.numberValue, number.isFinite, number >= 0 else {
                throw SwitchboardError.invalidField(path + "metrics." + name, "A metric must be a number of 0 or more.")
            }
            metrics[name] = number
        }
        guard let dimensionValue = entry["dimension"] else { throw SwitchboardError.missingField(path + "dimension") }
        guard case .object(let dimension) = dimensionValue else {
            throw SwitchboardError.invalidField(path + "dimension", "'dimension' must be an object with at least 'date'.")
        }
        guard let dateValue = dimension["date"] else { throw SwitchboardError.missingField(path + "dimension.date") }
        guard let date = dateValue.stringValue.flatMap({ LocalDate($0) }) else {
            throw SwitchboardError.invalidField(path + "dimension.date", "'date' must be a calendar date written YYYY-MM-DD.")
        }
        var dimensions = Array(repeating: "", count: StatisticDimension.all.count)
        for (key, value) in dimension.sorted(by: { $0.key < $1.key }) where key != "date" {
            guard let known = StatisticDimension.all.first(where: { $0.key == key }) else {
                throw SwitchboardError.invalidField(
                    path + "dimension." + key,
                    "'\(key)' is not a dimension; known: date, \(StatisticDimension.all.map(\.key).joined(separator: ", "))."
                )
            }
            switch value {
            case .null:
                continue
            case .string(let text) where !text.isEmpty && text.count <= StatisticDimension.maxValueLength:
                dimensions[known.index] = text
            default:
                throw SwitchboardError.invalidField(
                    path + "dimension." + key,
                    "A dimension value must be a string of 1 to \(StatisticDimension.maxValueLength) characters, or null."
                )
            }
        }
        self.init(type: type, date: date, dimensions: dimensions, metrics: metrics)
    }

    /// The figures as the type's accumulator slots.
    ///
    /// An average counts with the weight of its weight metric when that was pushed too, else with the
    /// pushed `total`, else as one observation.
    public var slots: [Double] {
        var slots = Array(repeating: 0.0, count: type.slotCount)
        for (metric, offset) in zip(type.metrics, type.slotOffsets) {
            guard let value = metrics[metric.name] else { continue }
            switch metric.kind {
            case .count:
                slots[offset] = value
            case .average(let weightName):
                let weight = metrics[weightName] ?? metrics["total"] ?? 1
                slots[offset] = value * weight
                slots[offset + 1] = weight
            }
        }
        return slots
    }
}
