/// One tenant's hourly statistics of one computed type, held in memory column by column so a report
/// over a year of hours reads them without touching the database.
///
/// Dimension values are interned: id 0 is "" (none).
public struct RollupTable: Sendable {
    /// Accumulator slots per cell.
    public let slotCount: Int
    /// The log position the table reflects: batches at or before it are already in.
    public var position: Int64
    private(set) var hours: [Int32] = []
    private(set) var dimensionIDs: [UInt32] = []
    private(set) var slots: [Double] = []
    private var cellsByHour: [Int32: [Int32]] = [:]
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

    /// Adds `amounts` to the cell of an hour and dimension values, creating it when new.
    public mutating func add(hour: Int64, dimensions: [String], amounts: [Double]) {
        precondition(dimensions.count == Self.dimensionCount && amounts.count == slotCount, "cell shape")
        let hourKey = Int32(clamping: hour)
        var ids: [UInt32] = []
        for value in dimensions { ids.append(intern(value)) }
        let cell: Int
        if let existing = cellsByHour[hourKey]?.first(where: { cell in
            let base = Int(cell) * Self.dimensionCount
            return (0..<Self.dimensionCount).allSatisfy { dimensionIDs[base + $0] == ids[$0] }
        }) {
            cell = Int(existing)
        } else {
            cell = hours.count
            hours.append(hourKey)
            dimensionIDs.append(contentsOf: ids)
            slots.append(contentsOf: repeatElement(0, count: slotCount))
            cellsByHour[hourKey, default: []].append(Int32(cell))
        }
        let base = cell * slotCount
        for index in 0..<slotCount {
            slots[base + index] += amounts[index]
        }
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

    /// Calls `body` with each cell of an hour: its dimension ids and its first slot index.
    func forEachCell(inHour hour: Int64, _ body: (_ cell: Int) -> Void) {
        guard let cells = cellsByHour[Int32(clamping: hour)] else { return }
        for cell in cells { body(Int(cell)) }
    }

    private mutating func intern(_ value: String) -> UInt32 {
        if let id = valueIDs[value] { return id }
        let id = UInt32(values.count)
        values.append(value)
        valueIDs[value] = id
        return id
    }
}
