import Hummingbird
import NIOCore
import SwitchboardCore

/// The per-request context of every Switchboard route.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set on a `/ws` upgrade request: the WebSocket route records the principal here.
    var webSocketAcceptance: WebSocketAcceptance?
    /// Who is calling; set by `SecurityMiddleware` on authenticated routes.
    public var principal: Principal?
    /// The connection's peer.
    public let remoteAddress: SocketAddress?
    /// The client's address (4 or 16 bytes), the peer or what a trusted proxy forwarded; set by `SecurityMiddleware`.
    public var clientAddress: [UInt8]?
    /// The largest body a handler collects; larger ones get 413.
    public var maxUploadSize: Int

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.principal = nil
        self.remoteAddress = source.channel.remoteAddress
        self.clientAddress = nil
        self.webSocketAcceptance = nil
        self.maxUploadSize = SwitchboardConfiguration.Server().bodyLimit
    }

    /// The authenticated principal.
    /// - Important: Only for routes behind `SecurityMiddleware`; elsewhere this is a programming error.
    var requirePrincipal: Principal {
        guard let principal else { preconditionFailure("route is not behind the authenticator") }
        return principal
    }
}
