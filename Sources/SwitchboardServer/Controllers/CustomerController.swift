import Hummingbird
import SwitchboardCore

/// `/api/v1/customers` and `/api/v1/orders`: the CRM's customers and their orders, written by the
/// tenant's systems or by CRM plugins, read by agents.
struct CustomerController {
    let store: any ChatStore
    let responder: CommandResponder
    let permissions: DataPermissions
    let lookup: CustomerLookup

    func addRoutes(to routes: DocumentedRoutes) {
        routes.on(.post, "/customers", scope: .customersWrite, body: Body.self, use: upsert)
        routes.on(.get, "/customers", scope: .customersRead, use: list)
        routes.on(.get, "/customers/{id}", scope: .customersRead, use: get)
        routes.on(.put, "/customers/{id}", scope: .customersWrite, body: Body.self, use: update)
        routes.on(.delete, "/customers/{id}", scope: .customersWrite, use: delete)
        routes.on(.get, "/customers/{id}/orders", scope: .customersRead, use: orders)
        routes.on(.post, "/orders", scope: .customersWrite, body: OrderBody.self, use: upsertOrder)
        routes.on(.get, "/orders/{id}", scope: .customersRead, use: order)
        routes.on(.get, "/conversations/{id}/customer", scope: .customersRead, use: conversationCustomer)
    }

    /// A customer's fields; `customer_id` is required on POST and, on PUT, must match the path when present.
    struct Body: StrictBody {
        var customerID: String?
        var name: String?
        var phone: String?
        var email: String?
        var level: LenientText?
        var tags: [String]?
        var source: String?
        var externalID: String?
        var visitorIDs: [String]?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case name, phone, email, level, tags, source
            case customerID = "customer_id"
            case externalID = "external_id"
            case visitorIDs = "visitor_ids"
        }
        static let fields = Set(CodingKeys.allCases.map(\.stringValue))

        /// The changes; a write over the API names `api` as the source unless it names another.
        var changes: CustomerChanges {
            CustomerChanges(
                name: name, phone: phone, email: email, level: level?.text, tags: tags, source: source ?? "api", externalID: externalID,
                visitorIDs: visitorIDs
            )
        }
    }

    struct OrderBody: StrictBody {
        var orderID: String?
        var customerID: String?
        var amount: Double?
        var currency: String?
        var status: String?
        var createTime: JSONValue?
        var source: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case amount, currency, status, source
            case orderID = "order_id"
            case customerID = "customer_id"
            case createTime = "create_time"
        }
        static let fields = Set(CodingKeys.allCases.map(\.stringValue))
    }

    @Sendable func upsert(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await CollectedBody.collect(request, context: context)
        let input = try body.decode(Body.self)
        guard let id = input.customerID else { throw SwitchboardError.missingField("customer_id") }
        let command = ChatCommand.upsertCustomer(customerID: id, input.changes, mustExist: false, expectedVersion: nil)
        return try await responder.respond(command, request: request, context: context, body: body)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        let filter = CustomerFilter(
            phone: query["phone"].map(String.init),
            tag: query["tag"].map(String.init),
            level: query["level"].map(String.init),
            visitorID: try request.idParameter("visitor_id")
        )
        if let phone = filter.phone, CustomerFilter.phoneKey(phone).isEmpty {
            throw Problem.invalidParameter("phone", "'phone' must contain digits.")
        }
        return try await .json(ListBody(try store.customers(tenant: context.requirePrincipal.tenantID, filter: filter, page: try request.pageRequest())))
    }

    @Sendable func get(_ request: Request, context: AppRequestContext) async throws -> Response {
        let customer = try await requireCustomer(context)
        return try .json(customer, version: customer.version)
    }

    @Sendable func update(_ request: Request, context: AppRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let expected = try ETag.expectedVersion(request)
        let input = try await CollectedBody.collect(request, context: context).decode(Body.self)
        if let bodyID = input.customerID, bodyID != id {
            throw SwitchboardError.invalidField("customer_id", "The field 'customer_id' must match the path; a customer's id cannot change.")
        }
        let command = ChatCommand.upsertCustomer(customerID: id, input.changes, mustExist: true, expectedVersion: expected)
        return try await responder.respond(command, request: request, context: context)
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let expected = try ETag.expectedVersion(request)
        return try await responder.respond(.deleteCustomer(customerID: id, expectedVersion: expected), request: request, context: context)
    }

    @Sendable func orders(_ request: Request, context: AppRequestContext) async throws -> Response {
        let customer = try await requireCustomer(context)
        let page = try await store.orders(customerID: customer.customerID, tenant: context.requirePrincipal.tenantID, page: try request.pageRequest())
        return try .json(ListBody(page))
    }

    @Sendable func upsertOrder(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await CollectedBody.collect(request, context: context)
        let input = try body.decode(OrderBody.self)
        guard let orderID = input.orderID else { throw SwitchboardError.missingField("order_id") }
        guard let customerID = input.customerID else { throw SwitchboardError.missingField("customer_id") }
        guard let amount = input.amount else { throw SwitchboardError.missingField("amount") }
        guard let status = input.status else { throw SwitchboardError.missingField("status") }
        let order = OrderInput(
            orderID: orderID, customerID: customerID, amount: amount, currency: input.currency, status: status,
            createTime: try input.createTime.map { try ExternalTime($0, field: "create_time") }, source: input.source ?? "api"
        )
        return try await responder.respond(.upsertOrder(order), request: request, context: context, body: body)
    }

    @Sendable func order(_ request: Request, context: AppRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        guard let order = try await store.order(id: id, tenant: context.requirePrincipal.tenantID) else { throw SwitchboardError.notFound("order") }
        return try .json(order, version: order.version)
    }

    /// The CRM record of the conversation's visitor and their recent orders; `?refresh=true` asks the CRM now.
    @Sendable func conversationCustomer(_ request: Request, context: AppRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let principal = context.requirePrincipal
        let conversation = try await permissions.conversation(id, for: principal)
        let refresh: Bool
        switch request.uri.queryParameters["refresh"] {
        case nil, "false": refresh = false
        case "true": refresh = true
        default: throw Problem.invalidParameter("refresh", "'refresh' must be true or false.")
        }
        return try .json(try await lookup.lookup(tenant: principal.tenantID, conversation: conversation, refresh: refresh))
    }

    private func requireCustomer(_ context: AppRequestContext) async throws -> Customer {
        let id = try context.parameters.require("id")
        guard let customer = try await store.customer(id: id, tenant: context.requirePrincipal.tenantID) else { throw SwitchboardError.notFound("customer") }
        return customer
    }
}

/// Text a CRM may send as a JSON string or number (a customer `level` of `3` or `"vip"`).
struct LenientText: Decodable {
    let text: String

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let integer = try? container.decode(Int64.self) {
            text = String(integer)
        } else {
            text = try container.decode(String.self)
        }
    }
}
