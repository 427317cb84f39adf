/// One tenant's hourly statistics of one computed type, held in memory column by column and sorted by
/// hour, so a report over a year of hours is one pass over contiguous arrays.
///
/// Dimension values are interned: id 0 is "" (none).
public struct RollupTable: Sendable {
    /// Accumulator slots per cell.
    public let slotCount: Int
    /// The log position the table reflects: batches at or before it are already in.
    public var position: Int64
    /// Each cell's hour (since the epoch, UTC), ascending.
    private(set) var hours: [Int32] = []
    /// Each cell's dimension ids, `dimensionCount` per cell.
    private(set) var dimensionIDs: [UInt32] = []
    /// Each cell's accumulator slots, `slotCount` per cell.
    private(set) var slots: [Double] = []
    private(set) var values: [String] = [""]
    private var valueIDs: [String: UInt32] = ["": 0]

    /// The number of dimensions of every cell.
    static let dimensionCount = StatisticDimension.all.count

    /// Creates an empty table.
    public init(slotCount: Int, position: Int64) {
        self.slotCount = slotCount
        self.position = position
    }

    /// How many hourly cells the table holds.
    public var count: Int { hours.count }

    /// Adds `amounts` to the cell of an hour and dimension values, creating it when new. Adding in hour
    /// order (as loading and live rollups do) appends; an earlier hour is inserted in place.
    public mutating func add(hour: Int64, dimensions: [String], amounts: [Double]) {
        precondition(dimensions.count == Self.dimensionCount && amounts.count == slotCount, "cell shape")
        let hourKey = Int32(clamping: hour)
        var ids: [UInt32] = []
        for value in dimensions { ids.append(intern(value)) }
        let sameHour = cells(from: Int64(hourKey), to: Int64(hourKey) + 1)
        let cell: Int
        if let existing = sameHour.first(where: { cell in (0..<Self.dimensionCount).allSatisfy { dimensionIDs[cell * Self.dimensionCount + $0] == ids[$0] } }) {
            cell = existing
        } else {
            cell = sameHour.upperBound
            hours.insert(hourKey, at: cell)
            dimensionIDs.insert(contentsOf: ids, at: cell * Self.dimensionCount)
            slots.insert(contentsOf: repeatElement(0, count: slotCount), at: cell * slotCount)
        }
        let base = cell * slotCount
        for index in 0..<slotCount {
            slots[base + index] += amounts[index]
        }
    }

    /// The cells whose hour lies in `start..<end`.
    func cells(from start: Int64, to end: Int64) -> Range<Int> {
        firstCell(atOrAfter: start)..<firstCell(atOrAfter: end)
    }

    /// Slots summed over every hour, per combination of dimension values, in first-seen order.
    public func totalsByDimensions() -> [(dimensions: [String], slots: [Double])] {
        var order: [[UInt32]: Int] = [:]
        var totals: [(dimensions: [String], slots: [Double])] = []
        for cell in 0..<hours.count {
            let ids = Array(dimensionIDs[cell * Self.dimensionCount..<(cell + 1) * Self.dimensionCount])
            let index =
                order[ids]
                ?? {
                    totals.append((ids.map { values[Int($0)] }, Array(repeating: 0, count: slotCount)))
                    order[ids] = totals.count - 1
                    return totals.count - 1
                }()
            for slot in 0..<slotCount { totals[index].slots[slot] += slots[cell * slotCount + slot] }
        }
        return totals
    }

    /// The id of a dimension value, or nil when no cell has it.
    func id(of value: String) -> UInt32? { valueIDs[value] }

    private func firstCell(atOrAfter hour: Int64) -> Int {
        let key = Int32(clamping: hour)
        var low = 0
        var high = hours.count
        while low < high {
            let middle = (low + high) / 2
            if hours[middle] < key { low = middle + 1 } else { high = middle }
        }
        return low
    }

    private mutating func intern(_ value: String) -> UInt32 {
        if let id = valueIDs[value] { return id }
        let id = UInt32(values.count)
        values.append(value)
        valueIDs[value] = id
        return id
    }
}
