import Foundation

/// A validated statistics report request: type, local date range, granularity, time zone and dimensions.
public struct ReportQuery: Sendable {
    /// The length of a period.
    public struct Granularity: NamedOption {
        public let name: String
        let component: Calendar.Component

        public static let hour = Granularity(name: "hour", component: .hour)
        public static let day = Granularity(name: "day", component: .day)
        /// ISO weeks, starting on Monday.
        public static let week = Granularity(name: "week", component: .weekOfYear)
        public static let month = Granularity(name: "month", component: .month)

        public static let all: [Granularity] = [.hour, .day, .week, .month]
    }

    /// The longest range a report covers, in days.
    public static let maxDays: Int64 = 366

    public var type: StatisticType
    /// The first day, inclusive, in `timeZone`.
    public var startDate: LocalDate
    /// The last day, inclusive, in `timeZone`.
    public var endDate: LocalDate
    public var granularity: Granularity
    public var timeZone: TimeZone
    /// The dimensions rows are split by, in the order asked.
    public var dimensions: [StatisticDimension]

    /// Validates query parameters.
    /// - Parameter parameter: the text of a query parameter, or nil when absent.
    /// - Throws: `invalid_field` or `missing_field` naming the parameter.
    public init(parameter: (String) -> String?) throws {
        guard let typeName = parameter("type") else { throw SwitchboardError.missingField("type") }
        guard let type = StatisticType(named: typeName) else {
            throw SwitchboardError.invalidField("type", "Unknown statistics type '\(typeName)'; known types: \(StatisticType.all.map(\.name).joined(separator: ", ")).")
        }
        func date(_ name: String) throws -> LocalDate {
            guard let text = parameter(name) else { throw SwitchboardError.missingField(name) }
            guard let date = LocalDate(text) else {
                throw SwitchboardError.invalidField(name, "'\(name)' must be a calendar date written YYYY-MM-DD.")
            }
            return date
        }
        let start = try date("start_date")
        let end = try date("end_date")
        guard start <= end else {
            throw SwitchboardError.invalidField("start_date", "'start_date' (\(start)) is after 'end_date' (\(end)).")
        }
        guard end.dayNumber - start.dayNumber + 1 <= Self.maxDays else {
            throw SwitchboardError.invalidField("end_date", "A report covers at most \(Self.maxDays) days; this range has \(end.dayNumber - start.dayNumber + 1).")
        }
        var granularity = Granularity.day
        if let name = parameter("granularity") {
            guard let value = Granularity(named: name) else {
                throw SwitchboardError.invalidField("granularity", "'granularity' must be one of \(Granularity.all.map(\.name).joined(separator: ", ")).")
            }
            granularity = value
        }
        var timeZone = TimeZone(identifier: "UTC")!
        if let name = parameter("timezone") {
            guard let zone = Self.zone(named: name) else {
                throw SwitchboardError.invalidField("timezone", "'timezone' must be an IANA zone such as Europe/Berlin, or an offset such as +05:30.")
            }
            timeZone = zone
        }
        var dimensions: [StatisticDimension] = []
        if let list = parameter("dimensions"), !list.isEmpty {
            for name in list.split(separator: ",", omittingEmptySubsequences: false).map({ $0.trimmingCharacters(in: .whitespaces) }) {
                guard let dimension = StatisticDimension(named: name) else {
                    throw SwitchboardError.invalidField(
                        "dimensions",
                        "Unknown dimension '\(name)'; known dimensions: \(StatisticDimension.all.map(\.name).joined(separator: ", "))."
                    )
                }
                guard !dimensions.contains(dimension) else {
                    throw SwitchboardError.invalidField("dimensions", "The dimension '\(name)' is named twice.")
                }
                dimensions.append(dimension)
            }
        }
        self.init(type: type, startDate: start, endDate: end, granularity: granularity, timeZone: timeZone, dimensions: dimensions)
    }

    /// Creates a query from validated parts.
    public init(type: StatisticType, startDate: LocalDate, endDate: LocalDate, granularity: Granularity, timeZone: TimeZone, dimensions: [StatisticDimension]) {
        self.type = type
        self.startDate = startDate
        self.endDate = endDate
        self.granularity = granularity
        self.timeZone = timeZone
        self.dimensions = dimensions
    }

    /// An IANA zone, `UTC`, or a fixed offset `±HH:MM`.
    public static func zone(named name: String) -> TimeZone? {
        if let sign = name.first, sign == "+" || sign == "-" {
            let parts = name.dropFirst().split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, parts.allSatisfy({ $0.count == 2 }), let hours = Int(parts[0]), let minutes = Int(parts[1]),
                hours <= 14, minutes < 60
            else { return nil }
            return TimeZone(secondsFromGMT: (sign == "-" ? -1 : 1) * (hours * 3_600 + minutes * 60))
        }
        guard name.contains("/") || name == "UTC" || name == "GMT" else { return nil }
        return TimeZone(identifier: name)
    }

    /// The calendar periods start in: Gregorian, in the query's zone, weeks from Monday.
    var calendar: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        calendar.firstWeekday = 2
        calendar.minimumDaysInFirstWeek = 4
        return calendar
    }

    /// Unix seconds of local midnight at the start of `date`.
    func midnight(of date: LocalDate, in calendar: Calendar) -> Int64 {
        let (year, month, day) = date.components
        let components = DateComponents(year: Int(year), month: Int(month), day: Int(day))
        return Int64(calendar.date(from: components)!.timeIntervalSince1970)
    }
}
