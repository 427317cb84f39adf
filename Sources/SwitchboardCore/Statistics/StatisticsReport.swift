import Foundation

/// The answer to a `ReportQuery`: one row per period and combination of the asked dimensions that has
/// figures, in period order, plus totals over the whole range.
///
/// Computed and pushed figures of the same type add up slot by slot: counts add, averages are weighted
/// means over both.
public struct StatisticsReport: Sendable {
    /// One period and dimension combination.
    public struct Row: Sendable {
        /// Unix seconds of the period's start (local, may precede the range for a partial first week or month).
        public var periodStart: Int64
        /// The period's start as RFC 3339 in the query's zone.
        public var period: String
        /// The local date of the period's start.
        public var date: LocalDate
        /// The asked dimensions' values, in the query's order; nil for none.
        public var dimensions: [String?]
        /// Accumulator slots of the type.
        public var slots: [Double]
    }

    public var query: ReportQuery
    public var rows: [Row]
    /// Accumulator slots over every row.
    public var totals: [Double]

    /// Builds a report.
    /// - Parameters:
    ///   - query: the validated request.
    ///   - computed: the tenant's rollup table of this type, when the type is computed.
    ///   - pushed: pushed figures of this type whose date lies in the range.
    ///   - agent: when set, only figures of this agent count (an agent sees its own statistics).
    public init(query: ReportQuery, computed: RollupTable?, pushed: [PushedStatistic], agent: String? = nil) {
        self.query = query
        let periods = ReportPeriods(query: query)
        let slotCount = query.type.slotCount
        let selected = query.dimensions.map(\.index)
        var groups = Groups(slotCount: slotCount, periods: periods.starts.count, isByPeriodOnly: selected.isEmpty)
        let tableValues = computed?.values ?? [""]
        var extraIDs: [String: UInt32] = [:]
        var extraValues: [String] = []

        if let computed {
            let agentIndex = StatisticDimension.agent.index
            let agentID: UInt32? = agent.map { computed.id(of: $0) ?? .max }
            let width = RollupTable.dimensionCount
            let firstHour = periods.hours.lowerBound
            computed.hours.withUnsafeBufferPointer { hours in
                computed.dimensionIDs.withUnsafeBufferPointer { ids in
                    computed.slots.withUnsafeBufferPointer { slots in
                        for cell in computed.cells(from: periods.hours.lowerBound, to: periods.hours.upperBound) {
                            let base = cell * width
                            if let agentID, ids[base + agentIndex] != agentID { continue }
                            var key = GroupKey(period: periods.hourPeriods[Int(Int64(hours[cell]) - firstHour)])
                            for position in selected.indices { key.set(position, ids[base + selected[position]]) }
                            groups.add(slots, at: cell * slotCount, to: key)
                        }
                    }
                }
            }
        }
        for entry in pushed where agent == nil || entry.dimensions[StatisticDimension.agent.index] == agent {
            var key = GroupKey(period: Int32(periods.period(ofInstant: query.midnight(of: entry.date, in: periods.calendar))))
            for position in selected.indices {
                let value = entry.dimensions[selected[position]]
                let id =
                    computed?.id(of: value) ?? extraIDs[value]
                    ?? {
                        extraValues.append(value)
                        extraIDs[value] = UInt32(tableValues.count + extraValues.count - 1)
                        return UInt32(tableValues.count + extraValues.count - 1)
                    }()
                key.set(position, id)
            }
            entry.slots.withUnsafeBufferPointer { groups.add($0, at: 0, to: key) }
        }

        func text(of id: UInt32) -> String? {
            let value = Int(id) < tableValues.count ? tableValues[Int(id)] : extraValues[Int(id) - tableValues.count]
            return value.isEmpty ? nil : value
        }
        var rows: [Row] = []
        rows.reserveCapacity(groups.keys.count)
        var totals = Array(repeating: 0.0, count: slotCount)
        for (index, key) in groups.keys.enumerated() {
            let period = Int(key.period)
            let sums = Array(groups.sums[index * slotCount..<(index + 1) * slotCount])
            for slot in 0..<slotCount { totals[slot] += sums[slot] }
            rows.append(
                Row(
                    periodStart: periods.starts[period],
                    period: periods.labels[period],
                    date: periods.dates[period],
                    dimensions: selected.indices.map { text(of: key.id(at: $0)) },
                    slots: sums
                )
            )
        }
        rows.sort { lhs, rhs in
            if lhs.periodStart != rhs.periodStart { return lhs.periodStart < rhs.periodStart }
            return lhs.dimensions.lexicographicallyPrecedes(rhs.dimensions) { ($0 ?? "") < ($1 ?? "") }
        }
        self.rows = rows
        self.totals = totals
    }

    /// The rows being summed: their keys in first-seen order and their slots, `slotCount` per row.
    private struct Groups {
        let slotCount: Int
        let isByPeriodOnly: Bool
        var keys: [GroupKey] = []
        var sums: [Double] = []
        private var indexByKey: [GroupKey: Int] = [:]
        /// Without dimensions a period is the whole key: its row by period, -1 for none yet.
        private var indexByPeriod: [Int]

        init(slotCount: Int, periods: Int, isByPeriodOnly: Bool) {
            self.slotCount = slotCount
            self.isByPeriodOnly = isByPeriodOnly
            self.indexByPeriod = Array(repeating: -1, count: isByPeriodOnly ? periods : 0)
        }

        mutating func add(_ amounts: UnsafeBufferPointer<Double>, at offset: Int, to key: GroupKey) {
            let index: Int
            if isByPeriodOnly, indexByPeriod[Int(key.period)] >= 0 {
                index = indexByPeriod[Int(key.period)]
            } else if !isByPeriodOnly, let existing = indexByKey[key] {
                index = existing
            } else {
                index = keys.count
                keys.append(key)
                sums.append(contentsOf: repeatElement(0, count: slotCount))
                if isByPeriodOnly { indexByPeriod[Int(key.period)] = index } else { indexByKey[key] = index }
            }
            let base = index * slotCount
            sums.withUnsafeMutableBufferPointer { sums in
                for slot in 0..<slotCount { sums[base + slot] += amounts[offset + slot] }
            }
        }
    }

    /// A period and up to three dimension ids; unused positions hold `UInt32.max`.
    private struct GroupKey: Hashable {
        var period: Int32
        var first = UInt32.max
        var second = UInt32.max
        var third = UInt32.max

        mutating func set(_ position: Int, _ id: UInt32) {
            switch position {
            case 0: first = id
            case 1: second = id
            default: third = id
            }
        }

        func id(at position: Int) -> UInt32 {
            switch position {
            case 0: first
            case 1: second
            default: third
            }
        }
    }
}

/// The periods of a report and which one each UTC hour of the range counts in.
///
/// Rollups are kept per UTC hour; in a zone whose offset is not a whole number of hours, an hour counts
/// in the period where it begins.
struct ReportPeriods {
    let calendar: Calendar
    /// Unix seconds of each period's start.
    let starts: [Int64]
    let labels: [String]
    let dates: [LocalDate]
    /// The UTC hours (since the epoch) whose start lies in the range.
    let hours: Range<Int64>
    /// The period of each hour of `hours`, by its offset from the first.
    let hourPeriods: [Int32]

    init(query: ReportQuery) {
        let calendar = query.calendar
        self.calendar = calendar
        let rangeStart = query.midnight(of: query.startDate, in: calendar)
        let rangeEnd = query.midnight(of: query.endDate.adding(days: 1), in: calendar)
        var starts: [Int64] = []
        var next = calendar.dateInterval(of: query.granularity.component, for: Date(timeIntervalSince1970: Double(rangeStart)))!.start
        while Int64(next.timeIntervalSince1970) < rangeEnd {
            starts.append(Int64(next.timeIntervalSince1970))
            next =
                query.granularity == .hour
                ? next.addingTimeInterval(3_600)
                : calendar.date(byAdding: query.granularity.component, value: 1, to: next)!
        }
        self.starts = starts
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = query.timeZone
        formatter.formatOptions = [.withInternetDateTime]
        self.labels = starts.map { formatter.string(from: Date(timeIntervalSince1970: Double($0))) }
        self.dates = starts.map { start in
            let parts = calendar.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: Double(start)))
            return LocalDate(year: Int64(parts.year!), month: Int64(parts.month!), day: Int64(parts.day!))
        }
        let hours = (rangeStart + 3_599).floorDivided(by: 3_600)..<(rangeEnd + 3_599).floorDivided(by: 3_600)
        self.hours = hours
        var hourPeriods: [Int32] = []
        hourPeriods.reserveCapacity(hours.count)
        var period = 0
        for hour in hours {
            while period + 1 < starts.count, starts[period + 1] <= hour * 3_600 { period += 1 }
            hourPeriods.append(Int32(period))
        }
        self.hourPeriods = hourPeriods
    }

    /// The period an hour of the range counts in, or nil outside the range.
    func period(ofHour hour: Int64) -> Int? {
        hours.contains(hour) ? Int(hourPeriods[Int(hour - hours.lowerBound)]) : nil
    }

    /// The period an instant inside the range falls in.
    func period(ofInstant instant: Int64) -> Int {
        var low = 0
        var high = starts.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if starts[middle] <= instant { low = middle } else { high = middle - 1 }
        }
        return low
    }
}
