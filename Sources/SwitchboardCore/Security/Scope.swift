/// A permission a route requires and a credential may hold, such as `agents:read`.
///
/// `admin` holds every other scope.
public struct Scope: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The scope's name as clients write it.
    public let name: String

    private init(_ name: String) {
        self.name = name
    }

    public static let agentsRead = Scope("agents:read")
    public static let agentsWrite = Scope("agents:write")
    public static let conversationsRead = Scope("conversations:read")
    public static let conversationsWrite = Scope("conversations:write")
    public static let messagesRead = Scope("messages:read")
    public static let messagesWrite = Scope("messages:write")
    public static let eventsRead = Scope("events:read")
    public static let webhooksManage = Scope("webhooks:manage")
    public static let integrationsManage = Scope("integrations:manage")
    public static let customersRead = Scope("customers:read")
    public static let customersWrite = Scope("customers:write")
    public static let ticketsRead = Scope("tickets:read")
    public static let ticketsWrite = Scope("tickets:write")
    public static let statisticsRead = Scope("statistics:read")
    public static let statisticsWrite = Scope("statistics:write")
    public static let keysManage = Scope("keys:manage")
    public static let admin = Scope("admin")

    /// Every scope, in documentation order.
    public static let all: [Scope] = [
        .agentsRead, .agentsWrite, .conversationsRead, .conversationsWrite, .messagesRead, .messagesWrite, .eventsRead,
        .customersRead, .customersWrite, .ticketsRead, .ticketsWrite,
        .webhooksManage, .integrationsManage, .statisticsRead, .statisticsWrite, .keysManage, .admin,
    ]

    /// The scope with this name.
    /// - Throws: `invalid_field` naming `field` for a name no route uses.
    public static func parse(_ name: String, field: String = "scopes") throws -> Scope {
        guard let scope = all.first(where: { $0.name == name }) else {
            throw SwitchboardError.invalidField(field, "'\(name)' is not a scope; known scopes: \(all.map(\.name).joined(separator: ", ")).")
        }
        return scope
    }

    /// Parses a space-separated scope string, the OAuth 2.0 `scope` form.
    /// - Throws: `invalid_field` for an unknown scope.
    public static func parseList(_ text: String, field: String = "scope") throws -> Set<Scope> {
        Set(try text.split(separator: " ").map { try parse(String($0), field: field) })
    }

    public var description: String { name }

    public static func < (lhs: Scope, rhs: Scope) -> Bool { lhs.name < rhs.name }
}

/// What kind of party a principal is, which decides its data permissions.
public struct Role: NamedOption {
    /// The role's name as it appears in tokens and listings.
    public let name: String

    private init(_ name: String) {
        self.name = name
    }

    /// Sees and manages everything in its tenant.
    public static let admin = Role("admin")
    /// A support agent: sees the conversations assigned to it.
    public static let agent = Role("agent")
    /// A website visitor: sees only its own conversations.
    public static let visitor = Role("visitor")
    /// Another system acting through an API key or client: sees its tenant's data as its scopes allow.
    public static let integration = Role("integration")

    /// Every role.
    public static let all: [Role] = [.admin, .agent, .visitor, .integration]
}

extension Role {
    /// The scopes of a token of this role that claims none.
    public var defaultScopes: Set<Scope> {
        switch self {
        case .admin: [.admin]
        case .agent: [.agentsRead, .conversationsRead, .conversationsWrite, .messagesRead, .messagesWrite, .customersRead, .ticketsRead, .ticketsWrite]
        case .visitor: [.conversationsRead, .messagesRead, .messagesWrite]
        default: []
        }
    }

    /// The most a token of this role holds whatever it claims; nil: no cap beyond the claim.
    public var maximumScopes: Set<Scope>? {
        switch self {
        case .agent: defaultScopes.union([.statisticsRead])
        case .visitor: defaultScopes.union([.conversationsWrite])
        default: nil
        }
    }
}
