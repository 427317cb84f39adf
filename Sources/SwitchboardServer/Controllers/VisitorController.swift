import Hummingbird
import SwitchboardCore

/// `/api/v1/visitors`: create and read visitors.
struct VisitorController {
    let store: any ChatStore
    let responder: CommandResponder
    let permissions: DataPermissions

    func addRoutes(to routes: DocumentedRoutes) {
        routes.on(.post, "/visitors", scope: .conversationsWrite, body: Body.self, use: create)
        routes.on(.get, "/visitors/{id}", scope: .conversationsRead, use: get)
    }

    struct Body: StrictBody {
        var externalID: String?
        var name: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case name
            case externalID = "external_id"
        }
        static let fields = Set(CodingKeys.allCases.map(\.stringValue))
    }

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await CollectedBody.collect(request, context: context)
        let input = try body.decode(Body.self)
        let visitor = NewVisitor(externalID: input.externalID, name: input.name)
        return try await responder.respond(.createVisitor(visitor), request: request, context: context, body: body)
    }

    @Sendable func get(_ request: Request, context: AppRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let principal = context.requirePrincipal
        guard let visitor = try await store.visitor(id: id, tenant: principal.tenantID), try await permissions.visibility(of: principal).contains(visitor: visitor.id) else {
            throw SwitchboardError.notFound("visitor")
        }
        return try .json(visitor)
    }
}
