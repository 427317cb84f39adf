/// Who is calling: resolved from a credential, never from the request body.
public struct Principal: Hashable, Sendable {
    /// How the principal proved who it is.
    public struct Method: Hashable, Sendable, CustomStringConvertible {
        /// The method's name in audit entries.
        public let name: String

        private init(_ name: String) {
            self.name = name
        }

        public static let apiKey = Method("api_key")
        public static let accessToken = Method("access_token")
        public static let jwt = Method("jwt")
        public static let signature = Method("signature")
        public static let plugin = Method("plugin")

        public var description: String { name }
    }

    public var tenantID: String
    /// The credential's subject: an API key id, an OAuth client id, a token's `sub`.
    public var subject: String
    public var role: Role
    public var scopes: Set<Scope>
    public var method: Method

    /// Creates a principal.
    public init(tenantID: String, subject: String, role: Role, scopes: Set<Scope>, method: Method) {
        self.tenantID = tenantID
        self.subject = subject
        self.role = role
        self.scopes = scopes
        self.method = method
    }

    /// Whether the principal holds `scope`, directly or through `admin`.
    public func allows(_ scope: Scope) -> Bool {
        scopes.contains(scope) || scopes.contains(.admin)
    }
}
