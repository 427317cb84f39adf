import Hummingbird
import SwitchboardCore

/// Runs a chat command for the calling principal and renders its outcome, honouring `Idempotency-Key` on POST.
struct CommandResponder: Sendable {
    let store: any ChatStore

    /// The longest `Idempotency-Key` accepted.
    static let maxIdempotencyKeyLength = 255

    func respond(_ command: ChatCommand, request: Request, context: AppRequestContext, body: CollectedBody? = nil) async throws -> Response {
        let idempotency = try body.flatMap { try idempotencyKey(request, body: $0) }
        switch try await store.execute(command, tenant: context.requirePrincipal.tenantID, idempotency: idempotency) {
        case .applied(let result):
            if case .removed = result.resource { return Response(status: .noContent) }
            var response = Response.json(bytes: try result.encodedBody(), status: result.isCreated ? .created : .ok, version: result.version)
            if result.isCreated { response.headers[.location] = result.location }
            return response
        case .replayed(let recorded):
            var response = Response.json(bytes: recorded.body, status: HTTPResponse.Status(code: recorded.status), version: recorded.version)
            response.headers[.idempotentReplayed] = "true"
            return response
        }
    }

    private func idempotencyKey(_ request: Request, body: CollectedBody) throws -> IdempotencyKey? {
        guard request.method == .post, let key = request.headers[.idempotencyKey] else { return nil }
        guard !key.isEmpty, key.count <= Self.maxIdempotencyKeyLength, key.allSatisfy({ $0.isASCII && !$0.isNewline }) else {
            throw Problem.badRequest(
                code: "invalid_idempotency_key",
                "Idempotency-Key must be 1 to \(Self.maxIdempotencyKeyLength) ASCII characters.",
                field: "Idempotency-Key"
            )
        }
        return IdempotencyKey(key: key, fingerprint: body.fingerprint(of: request))
    }
}

extension ChatResult {
    /// The resource's URL path.
    var location: String {
        switch resource {
        case .agent(let agent): "/api/v1/agents/\(agent.id)"
        case .visitor(let visitor): "/api/v1/visitors/\(visitor.id)"
        case .conversation(let conversation): "/api/v1/conversations/\(conversation.id)"
        case .message(let message): "/api/v1/messages/\(message.id)"
        case .customer(let customer): "/api/v1/customers/\(customer.customerID)"
        case .order(let order): "/api/v1/orders/\(order.orderID)"
        case .ticket(let ticket): "/api/v1/tickets/\(ticket.ticketID)"
        case .removed: ""
        }
    }
}
