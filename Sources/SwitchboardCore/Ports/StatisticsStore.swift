/// Hourly rollups, the facts the rollup keeps per conversation, and pushed figures.
public protocol StatisticsStore: Sendable {
    /// The stored facts of these conversations; absent keys have none.
    func conversationFacts(_ keys: Set<ConversationKey>) async throws -> [ConversationKey: ConversationFacts]
    /// Adds a rollup of the events at positions `positions` (first through last), saves its changed
    /// facts and moves `consumer`'s cursor to the last, in one transaction; does nothing when the cursor
    /// already is at or past the first (the batch, or part of it, was counted: by this server before a
    /// crash, or by another that held the statistics lease meanwhile).
    /// - Returns: whether the rollup was applied.
    func applyRollup(_ rollup: ConversationRollup, consumer: String, positions: ClosedRange<Int64>) async throws -> Bool
    /// Every hourly cell of a tenant's computed type, with the position of `consumer` they reflect.
    func rollupTable(tenant: String, type: StatisticType, consumer: String) async throws -> RollupTable
    /// Hourly cells of a tenant changed after `position` (in their last change's log position), oldest
    /// change first: what a statistics sink has not yet seen. About `limit` cells: every cell of the last
    /// position taken is included, so a sink may move its cursor to the last cell's position.
    func changedCells(tenant: String, type: StatisticType, after position: Int64, limit: Int) async throws -> [RollupCell]
    /// The position up to which a tenant's statistics sink plugin has taken the changed cells; 0 at first.
    func sinkCursor(tenant: String, plugin: String) async throws -> Int64
    /// Saves a statistics sink's position.
    func saveSinkCursor(tenant: String, plugin: String, position: Int64) async throws
    /// Stores pushed figures, each replacing what was pushed before for its type, date and dimensions.
    func savePushed(_ entries: [PushedStatistic], tenant: String) async throws
    /// Pushed figures of a type dated within a range, inclusive.
    func pushedStatistics(tenant: String, type: StatisticType, from start: LocalDate, through end: LocalDate) async throws -> [PushedStatistic]
}

/// One stored hourly cell with its current accumulator slots.
public struct RollupCell: Hashable, Sendable {
    public var key: RollupKey
    public var slots: [Double]
    /// The log position of the cell's last change.
    public var position: Int64

    /// Creates a cell.
    public init(key: RollupKey, slots: [Double], position: Int64) {
        self.key = key
        self.slots = slots
        self.position = position
    }
}
