import Hummingbird
import SwitchboardCore

/// `GET /api/v1/events`: the calling tenant's event log, in sequence order.
struct EventController {
    let log: any EventLog

    static let defaultLimit = 100
    static let maxLimit = 1_000

    func addRoutes(to routes: DocumentedRoutes) {
        routes.on(.get, "/events", scope: .eventsRead, use: list)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        let after = try sequenceParameter(request, "after") ?? sequenceParameter(request, "cursor") ?? 0
        var limit = Self.defaultLimit
        if let text = request.uri.queryParameters["limit"] {
            guard let value = Int(text), (1...Self.maxLimit).contains(value) else {
                throw Problem.invalidParameter("limit", "'limit' must be an integer from 1 to \(Self.maxLimit).")
            }
            limit = value
        }
        let tenant = context.requirePrincipal.tenantID
        let first = try await log.firstRetainedSeq(tenant: tenant)
        guard after >= first - 1 else {
            throw Problem(
                status: .gone,
                code: "events_expired",
                detail: "Events up to seq \(first - 1) are past the log's retention; resync over REST, then read from after=\(first - 1)."
            )
        }
        var events = try await log.events(tenant: tenant, after: after, limit: limit + 1)
        let hasMore = events.count > limit
        if hasMore { events.removeLast() }
        let next = hasMore ? events.last.map { String($0.seq) } : nil
        return try .json(ListBody(data: events, nextCursor: next, hasMore: hasMore))
    }

    private func sequenceParameter(_ request: Request, _ name: String) throws -> Int64? {
        guard let text = request.uri.queryParameters[Substring(name)], !text.isEmpty else { return nil }
        guard let value = Int64(text), value >= 0 else {
            throw Problem.invalidParameter(name, "'\(name)' must be a sequence number (an integer of 0 or more).")
        }
        return value
    }
}
