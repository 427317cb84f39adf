import Synchronization
import SwitchboardCore

/// The computed rollups of the tenants that asked for a report, kept in memory and up to date, so a
/// report reads no rows of the database but its pushed figures.
///
/// A tenant's table loads on its first report, together with the aggregator's cursor it reflects; every
/// batch the aggregator commits afterwards is added to each loaded table that does not yet hold it.
/// In a cluster the aggregator runs on the server holding its lease; on the others nothing keeps a
/// table up to date, so there each report loads it anew.
package final class StatisticsIndex: Sendable {
    /// The name of the aggregator's cursor.
    package static let consumer = "statistics"

    let store: any StatisticsStore
    /// Loaded tables by tenant, and the log position of the last batch applied to them. A table loaded
    /// from before that batch is loaded again, so a batch committed during a load is either in the
    /// loaded rows or applied after, never both or neither.
    private struct State {
        var tables: [String: RollupTable] = [:]
        var appliedPosition: Int64 = 0
    }

    private let state = Mutex(State())
    /// Whether this server's aggregator runs, and so keeps the loaded tables current.
    private let isFed = Atomic(false)

    package init(store: any StatisticsStore) {
        self.store = store
    }

    /// The report a validated query asks for.
    /// - Parameter agent: when set, only that agent's figures.
    package func report(_ query: ReportQuery, tenant: String, agent: String?) async throws -> StatisticsReport {
        let table = await query.type.isComputed ? try table(tenant: tenant) : nil
        let pushed = try await store.pushedStatistics(tenant: tenant, type: query.type, from: query.startDate, through: query.endDate)
        return StatisticsReport(query: query, computed: table, pushed: pushed, agent: agent)
    }

    /// Marks the aggregator of this server as running (its first batch follows) or stopped (the tables
    /// are dropped: nothing would keep them current).
    func fed(_ isRunning: Bool) {
        isFed.store(isRunning, ordering: .sequentiallyConsistent)
        if !isRunning { state.withLock { $0 = State() } }
    }

    /// The tenant's computed conversation table, loading it on first use.
    func table(tenant: String) async throws -> RollupTable {
        guard isFed.load(ordering: .sequentiallyConsistent) else {
            return try await store.rollupTable(tenant: tenant, type: .conversation, consumer: Self.consumer)
        }
        while true {
            if let table = state.withLock({ $0.tables[tenant] }) { return table }
            let loaded = try await store.rollupTable(tenant: tenant, type: .conversation, consumer: Self.consumer)
            let kept = state.withLock { state -> RollupTable? in
                if let table = state.tables[tenant] { return table }
                guard loaded.position >= state.appliedPosition else { return nil }
                state.tables[tenant] = loaded
                return loaded
            }
            if let kept { return kept }
        }
    }

    /// Adds a committed batch, which ended at log `position`, to every loaded table that lacks it.
    func apply(_ rollup: ConversationRollup, position: Int64) {
        state.withLock { state in
            state.appliedPosition = max(state.appliedPosition, position)
            let behind = Set(state.tables.filter { $0.value.position < position }.keys)
            for tenant in behind { state.tables[tenant]!.position = position }
            for (key, amounts) in rollup.cells where behind.contains(key.tenantID) {
                state.tables[key.tenantID]!.add(hour: key.hour, dimensions: key.dimensions, amounts: amounts)
            }
        }
    }
}
