import Foundation
import Logging
import ServiceLifecycle
import SwitchboardCore
import SwitchboardPluginHost

/// Delivers the computed statistics to every running `stats_sink` integration: on a timer, each sink
/// gets `stats.push` with the hourly cells changed since its cursor (their current values) and the
/// tenant's all-time totals per dimension combination.
///
/// The cursor moves only after the plugin answered OK, so a failing sink gets the same cells (with any
/// newer values) on the next round: nothing is lost, and a cell sent twice carries its whole value, not
/// an increment.
struct StatisticsSinkService: Service {
    let integrations: IntegrationManager
    let store: any StatisticsStore
    let index: StatisticsIndex
    let interval: Duration
    let logger: Logger

    /// About how many cells one `stats.push` carries.
    static let batchLimit = 500

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await deliverAll()
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// One round over every running sink.
    func deliverAll() async {
        for (tenant, plugin) in await integrations.runningIntegrations(capability: .statsSink) {
            do {
                try await deliver(tenant: tenant, plugin: plugin)
            } catch is CancellationError {
                return
            } catch {
                logger.warning("Statistics sink failed; retrying next round", metadata: ["sb.tenant": "\(tenant)", "sb.plugin": "\(plugin)", "sb.error": "\(error)"])
            }
        }
    }

    private func deliver(tenant: String, plugin: String) async throws {
        var cursor = try await store.sinkCursor(tenant: tenant, plugin: plugin)
        while true {
            let cells = try await store.changedCells(tenant: tenant, type: .conversation, after: cursor, limit: Self.batchLimit)
            guard let last = cells.last else { return }
            let outcome = try await integrations.call(tenant: tenant, plugin: plugin, op: "stats.push", args: try payload(tenant: tenant, cells: cells))
            guard outcome.status == .ok else {
                throw SwitchboardError(kind: .unavailable, code: "sink_failed", detail: "stats.push answered \(outcome.status): \(outcome.text)")
            }
            try await store.saveSinkCursor(tenant: tenant, plugin: plugin, position: last.position)
            cursor = last.position
        }
    }

    /// `{"tenant_id", "type", "metrics": [{name, kind}], "rows": [{hour, dimension, metrics, position}],
    /// "totals": [{dimension, metrics}]}`; dimension values "" are null.
    private func payload(tenant: String, cells: [RollupCell]) async throws -> JSONValue {
        let type = StatisticType.conversation
        let formatter = ISO8601DateFormatter()
        let rows: [JSONValue] = cells.map { cell in
            [
                "hour": .string(formatter.string(from: Date(timeIntervalSince1970: Double(cell.key.hour * 3_600)))),
                "dimension": Self.dimension(cell.key.dimensions),
                "metrics": Self.metrics(type, cell.slots),
                "position": JSONValue(cell.position),
            ]
        }
        let totals: [JSONValue] = try await index.table(tenant: tenant).totalsByDimensions().map { total in
            ["dimension": Self.dimension(total.dimensions), "metrics": Self.metrics(type, total.slots)]
        }
        let registry: [JSONValue] = type.metrics.map { metric in
            if case .average = metric.kind { ["name": .string(metric.name), "kind": "average"] } else { ["name": .string(metric.name), "kind": "count"] }
        }
        return ["tenant_id": .string(tenant), "type": .string(type.name), "metrics": .array(registry), "rows": .array(rows), "totals": .array(totals)]
    }

    private static func dimension(_ values: [String]) -> JSONValue {
        .object(Dictionary(uniqueKeysWithValues: StatisticDimension.all.map { ($0.key, values[$0.index].isEmpty ? .null : .string(values[$0.index])) }))
    }

    private static func metrics(_ type: StatisticType, _ slots: [Double]) -> JSONValue {
        .object(Dictionary(uniqueKeysWithValues: type.values(of: slots).map { ($0.name, $0.value.map(JSONValue.number) ?? .null) }))
    }
}
