/// Which of a tenant's conversations a principal may see; everything else is answered as not found.
public enum Visibility: Hashable, Sendable {
    /// Admins and integrations: every conversation of the tenant.
    case all
    /// An agent: the conversations assigned to it, and the unassigned queue when its role allows.
    case agent(id: String, seesQueue: Bool)
    /// A website visitor: only its own conversations.
    case visitor(id: String)
    /// A principal whose agent or visitor record does not exist: nothing.
    case none

    /// Whether a conversation is visible.
    public func contains(_ conversation: Conversation) -> Bool {
        switch self {
        case .all: true
        case .agent(let id, let seesQueue): conversation.agentID == id || (seesQueue && conversation.agentID == nil)
        case .visitor(let id): conversation.visitorID == id
        case .none: false
        }
    }

    /// Whether a visitor's profile is visible: a visitor sees only itself, agents see every visitor.
    public func contains(visitor id: String) -> Bool {
        switch self {
        case .all, .agent: true
        case .visitor(let own): own == id
        case .none: false
        }
    }

    /// Whether the principal may send a message as `sender`: agents and visitors only as themselves.
    public func maySend(as sender: String) -> Bool {
        switch self {
        case .all: true
        case .agent(let id, _), .visitor(let id): sender == id
        case .none: false
        }
    }
}

extension Agent.Role {
    /// Whether an agent of this role sees the unassigned queue beside its own conversations.
    public var seesQueue: Bool { self != .agent }
}
