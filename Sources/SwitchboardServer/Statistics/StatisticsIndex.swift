import Synchronization
import SwitchboardCore

/// The computed rollups of the tenants that asked for a report, kept in memory and up to date, so a
/// report reads no rows of the database but its pushed figures.
///
/// A tenant's table loads on its first report, together with the aggregator's cursor it reflects; every
/// batch the aggregator commits afterwards is added to each loaded table that does not yet hold it.
final class StatisticsIndex: Sendable {
    /// The name of the aggregator's cursor.
    static let consumer = "statistics"

    let store: any StatisticsStore
    /// Loaded tables by tenant. Loading happens under the lock, so a batch committed during a load is
    /// either in the loaded rows or applied after, never both or neither.
    private let tables = Mutex<[String: RollupTable]>([:])

    init(store: any StatisticsStore) {
        self.store = store
    }

    /// The report a validated query asks for.
    /// - Parameter agent: when set, only that agent's figures.
    func report(_ query: ReportQuery, tenant: String, agent: String?) throws -> StatisticsReport {
        let table = query.type.isComputed ? try table(tenant: tenant) : nil
        let pushed = try store.pushedStatistics(tenant: tenant, type: query.type, from: query.startDate, through: query.endDate)
        return StatisticsReport(query: query, computed: table, pushed: pushed, agent: agent)
    }

    /// The tenant's computed conversation table, loading it on first use.
    func table(tenant: String) throws -> RollupTable {
        try tables.withLock { tables in
            if let table = tables[tenant] { return table }
            let table = try store.rollupTable(tenant: tenant, type: .conversation, consumer: Self.consumer)
            tables[tenant] = table
            return table
        }
    }

    /// Adds a committed batch, which ended at log `position`, to every loaded table that lacks it.
    func apply(_ rollup: ConversationRollup, position: Int64) {
        tables.withLock { tables in
            let behind = Set(tables.filter { $0.value.position < position }.keys)
            for tenant in behind { tables[tenant]!.position = position }
            for (key, amounts) in rollup.cells where behind.contains(key.tenantID) {
                tables[key.tenantID]!.add(hour: key.hour, dimensions: key.dimensions, amounts: amounts)
            }
        }
    }
}
