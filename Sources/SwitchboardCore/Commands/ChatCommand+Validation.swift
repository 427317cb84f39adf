extension ChatCommand {
    /// The command with its input validated and normalised, or the first invalid field.
    public func validated() throws -> ChatCommand {
        switch self {
        case .createAgent(let input): .createAgent(try input.validated())
        case .updateAgent(let id, let changes, let expected): .updateAgent(id: id, try changes.validated(), expectedVersion: expected)
        case .createVisitor(let input): .createVisitor(try input.validated())
        case .createConversation(let input): .createConversation(try input.validated())
        case .updateConversation(let id, let changes, let expected):
            .updateConversation(id: id, try changes.validated(), expectedVersion: expected)
        case .sendMessage(let input): .sendMessage(try input.validated())
        case .editMessage(let id, let changes, let expected): .editMessage(id: id, try changes.validated(), expectedVersion: expected)
        case .upsertCustomer(let id, let changes, let mustExist, let expected):
            .upsertCustomer(customerID: try Validation.key(id, field: "customer_id"), try changes.validated(), mustExist: mustExist, expectedVersion: expected)
        case .upsertOrder(let input): .upsertOrder(try input.validated())
        case .createTicket(let input): .createTicket(try input.validated())
        case .updateTicket(let id, let changes, let expected): .updateTicket(id: id, try changes.validated(), expectedVersion: expected)
        case .deleteAgent, .endConversation, .deleteMessage, .deleteCustomer: self
        }
    }
}
