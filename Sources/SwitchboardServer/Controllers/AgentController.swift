import Hummingbird
import SwitchboardCore

/// `/api/v1/agents`: create, read, change, delete (tombstone) and list agents.
struct AgentController {
    let store: any ChatStore
    let responder: CommandResponder
    let representations: RepresentationCache

    func addRoutes(to routes: DocumentedRoutes) {
        routes.on(.post, "/agents", scope: .agentsWrite, body: Body.self, use: create)
        routes.on(.get, "/agents", scope: .agentsRead, use: list)
        routes.on(.get, "/agents/{id}", scope: .agentsRead, use: get)
        routes.on(.put, "/agents/{id}", scope: .agentsWrite, body: Body.self, use: update)
        routes.on(.delete, "/agents/{id}", scope: .agentsWrite, use: delete)
    }

    /// The body of POST (where `name` is required) and PUT (where every field is optional).
    struct Body: StrictBody {
        var name: String?
        var email: String?
        var role: Agent.Role?
        var status: Agent.Status?
        var maxConcurrent: Int?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case name, email, role, status
            case maxConcurrent = "max_concurrent"
        }
        static let fields = Set(CodingKeys.allCases.map(\.stringValue))
    }

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await CollectedBody.collect(request, context: context)
        let input = try body.decode(Body.self)
        guard let name = input.name else { throw SwitchboardError.missingField("name") }
        let defaults = NewAgent(name: name)
        let agent = NewAgent(
            name: name,
            email: input.email,
            role: input.role ?? defaults.role,
            status: input.status ?? defaults.status,
            maxConcurrent: input.maxConcurrent ?? defaults.maxConcurrent
        )
        return try await responder.respond(.createAgent(agent), request: request, context: context, body: body)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        let status = try request.enumParameter("status", as: Agent.Status.self)
        let page = try await store.agents(tenant: context.requirePrincipal.tenantID, status: status, page: try request.pageRequest())
        return try .json(ListBody(page))
    }

    @Sendable func get(_ request: Request, context: AppRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let tenant = context.requirePrincipal.tenantID
        guard let agent = try await store.agent(id: id, tenant: tenant) else { throw SwitchboardError.notFound("agent") }
        return try representations.response(for: agent, tenant: tenant, id: agent.id, version: agent.version)
    }

    @Sendable func update(_ request: Request, context: AppRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let expected = try ETag.expectedVersion(request)
        let input = try await CollectedBody.collect(request, context: context).decode(Body.self)
        let changes = AgentChanges(name: input.name, email: input.email, role: input.role, status: input.status, maxConcurrent: input.maxConcurrent)
        return try await responder.respond(.updateAgent(id: id, changes, expectedVersion: expected), request: request, context: context)
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let expected = try ETag.expectedVersion(request)
        return try await responder.respond(.deleteAgent(id: id, expectedVersion: expected), request: request, context: context)
    }
}
