import Hummingbird
import SwitchboardCore

/// The per-request context of every Switchboard route.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Who is calling; set by `APIKeyAuthenticator` on authenticated routes.
    public var principal: Principal?
    /// The largest body a handler collects; larger ones get 413.
    public var maxUploadSize: Int

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.principal = nil
        self.maxUploadSize = SwitchboardConfiguration.Server().bodyLimit
    }

    /// The authenticated principal.
    /// - Important: Only for routes behind `APIKeyAuthenticator`; elsewhere this is a programming error.
    var requirePrincipal: Principal {
        guard let principal else { preconditionFailure("route is not behind the authenticator") }
        return principal
    }
}
