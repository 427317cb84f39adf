import Foundation
import Hummingbird
import SwitchboardCore

/// `/api/v1/statistics`: figures pushed by other systems, reports over them and the computed rollups,
/// and the registry of types. An agent sees only its own figures, a supervisor or admin agent the tenant's.
struct StatisticsController {
    let store: any StatisticsStore
    let index: StatisticsIndex
    let permissions: DataPermissions

    func addRoutes(to routes: DocumentedRoutes) {
        routes.on(.post, "/statistics/push", scope: .statisticsWrite, use: push)
        routes.on(.get, "/statistics/report", scope: .statisticsRead, use: report)
        routes.on(.get, "/statistics/types", scope: .statisticsRead, use: types)
    }

    /// Accepts one entry `{"type","metrics","dimension"}` or an array of up to `PushedStatistic.maxBatch`.
    @Sendable func push(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await CollectedBody.collect(request, context: context)
        guard body.bytes.readableBytes > 0 else {
            throw Problem.badRequest(code: "missing_body", "This request needs a JSON object or array body.")
        }
        guard let json = try? JSONValue(parsing: body.bytes.readableBytesView) else {
            throw Problem.badRequest(code: "invalid_json", "The body is not valid JSON.")
        }
        let entries: [PushedStatistic]
        if case .array(let items) = json {
            guard (1...PushedStatistic.maxBatch).contains(items.count) else {
                throw SwitchboardError.invalidField("body", "A batch holds 1 to \(PushedStatistic.maxBatch) entries; this one has \(items.count).")
            }
            entries = try items.enumerated().map { try PushedStatistic(json: $1, path: "[\($0)].") }
        } else {
            entries = [try PushedStatistic(json: json)]
        }
        try await store.savePushed(entries, tenant: context.requirePrincipal.tenantID)
        return try .json(PushReceipt(accepted: entries.count))
    }

    @Sendable func report(_ request: Request, context: AppRequestContext) async throws -> Response {
        let parameters = request.uri.queryParameters
        let query = try ReportQuery { parameters[Substring($0)].map(String.init) }
        let principal = context.requirePrincipal
        let agent: String?
        switch try await permissions.visibility(of: principal) {
        case .all, .agent(_, seesQueue: true): agent = nil
        case .agent(let id, seesQueue: false): agent = id
        case .visitor, .none: throw SwitchboardError(kind: .forbidden, code: "statistics_forbidden", detail: "Only agents and integrations read statistics.")
        }
        let report = try await index.report(query, tenant: principal.tenantID, agent: agent)
        if request.headers[.accept]?.contains("text/csv") == true {
            return Response(
                status: .ok,
                headers: [.contentType: "text/csv; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: report.csv))
            )
        }
        return .json(bytes: report.json)
    }

    @Sendable func types(_ request: Request, context: AppRequestContext) async throws -> Response {
        try .json(TypesBody())
    }

    struct PushReceipt: Encodable {
        let accepted: Int
    }
}
