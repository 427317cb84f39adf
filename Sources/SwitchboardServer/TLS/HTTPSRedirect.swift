import Hummingbird
import Logging
import NIOCore

/// The plain-HTTP listener of a TLS server, when configured: every request gets 308 to the same path
/// on the HTTPS port, so clients that start with http:// land on TLS; nothing else is served there. A
/// connection that says nothing for `idleTimeout` is closed, so idle sockets cannot pile up here either.
enum HTTPSRedirect {
    static func application(host: String, port: Int, httpsPort: Int, idleTimeout: TimeAmount, logger: Logger) -> some ApplicationProtocol {
        let router = Router()
        router.addMiddleware { HTTPSRedirectMiddleware(httpsPort: httpsPort) }
        return Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: idleTimeout)),
            configuration: .init(address: .hostname(host, port: port), serverName: "switchboard"),
            logger: logger
        )
    }
}

private struct HTTPSRedirectMiddleware<Context: RequestContext>: RouterMiddleware {
    let httpsPort: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // The host the client asked for, without its port (an IPv6 literal keeps its brackets).
        let authority = request.head.authority ?? "localhost"
        let host =
            if authority.hasPrefix("["), let end = authority.firstIndex(of: "]") { authority[...end] } else {
                authority.split(separator: ":").first ?? "localhost"
            }
        return Response(status: .permanentRedirect, headers: [.location: "https://\(host):\(httpsPort)\(request.uri.description)", .contentLength: "0"])
    }
}
