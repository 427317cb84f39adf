/// Which slice of a list to read: items after `after` (an item id), at most `limit` of them.
public struct PageRequest: Hashable, Sendable {
    /// The largest page a client may ask for.
    public static let maxLimit = 200
    /// The page size when the client names none.
    public static let defaultLimit = 50

    public var limit: Int
    public var after: String?

    /// Creates a request; `limit` must be within 1...`maxLimit`.
    public init(limit: Int = PageRequest.defaultLimit, after: String? = nil) {
        precondition((1...PageRequest.maxLimit).contains(limit), "page limit out of range")
        self.limit = limit
        self.after = after
    }
}

/// One page of a list, in id order (which is creation order).
public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    /// The id of the last item when more follow.
    public var nextAfter: String?

    /// Creates a page.
    public init(items: [Item], nextAfter: String?) {
        self.items = items
        self.nextAfter = nextAfter
    }

    /// Whether more items follow this page.
    public var hasMore: Bool { nextAfter != nil }
}

/// Filters of the conversation list.
public struct ConversationFilter: Hashable, Sendable {
    public var status: Conversation.Status?
    public var agentID: String?
    public var visitorID: String?
    /// What the principal may see at all; the other fields narrow it.
    public var visibility: Visibility

    /// Creates a filter; nil fields match everything.
    public init(status: Conversation.Status? = nil, agentID: String? = nil, visitorID: String? = nil, visibility: Visibility = .all) {
        self.status = status
        self.agentID = agentID
        self.visitorID = visitorID
        self.visibility = visibility
    }
}
