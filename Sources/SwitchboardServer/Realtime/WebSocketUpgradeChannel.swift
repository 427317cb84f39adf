import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket
import SwitchboardCore
import Synchronization

/// HTTP/1.1 with the `/ws` upgrade, whose refusals are answered with the security pipeline's problem
/// rather than a bare 400: a handshake with a bad credential gets the same 401 problem+json as REST.
///
/// An upgrade request goes through the WebSocket router (`webSocketResponder`); when that answers 200
/// and accepted a principal, the connection upgrades to the session's channel handlers
/// (`RealtimeConnection` and its `Mailbox`), so Hummingbird's task for it ends with the upgrade and an
/// idle socket holds no task. Otherwise its problem is the answer and the connection closes (NIO does
/// not hand a declined upgrade request on).
struct WebSocketUpgradeChannel<WebSocketResponder: HTTPResponder>: ServerChildChannel, HTTPChannelHandler
where WebSocketResponder.Context == AppRequestContext {
    enum UpgradeResult: Sendable {
        case webSocket
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        case refused(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, Problem)
    }

    struct Value: ServerChildChannelValue {
        let upgradeResult: EventLoopFuture<UpgradeResult>
        let channel: any Channel
    }

    let responder: HTTPChannelHandler.Responder
    let webSocketResponder: WebSocketResponder
    let session: RealtimeSession
    let limiter: ConnectionLimiter
    let limits: ConnectionDeadlineHandler.Limits
    let metrics: any MetricsFactory

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            // Over a connection limit the connection closes at once; its pipeline is set up all the same,
            // so that Hummingbird gets a value whose upgrade fails with the close.
            let address = channel.remoteAddress.flatMap(ClientAddress.bytes)
            if limiter.admit(address) == nil {
                channel.closeFuture.whenComplete { _ in limiter.release(address) }
            } else {
                channel.close(promise: nil)
            }
            let deadline = ConnectionDeadlineHandler(limits: limits, metrics: metrics)
            try channel.pipeline.syncOperations.addHandler(deadline, position: .first)
            let accepted = NIOLockedValueBox<RealtimeContext?>(nil)
            let refusal = NIOLockedValueBox<Problem?>(nil)
            let upgrader = NIOTypedWebSocketServerUpgrader<UpgradeResult>(
                maxFrameSize: session.configuration.maxFrameBytes,
                shouldUpgrade: { channel, head in
                    // From here the connection is an upgrade: the HTTP timeouts end, and the observer goes
                    // before NIO removes the request decoder, which hands any bytes after the request on
                    // as raw bytes that the observer must never see.
                    if let observer = try? channel.pipeline.syncOperations.handler(type: RequestPhaseObserver.self) {
                        channel.pipeline.syncOperations.removeHandler(observer, promise: nil)
                    }
                    let promise = channel.eventLoop.makePromise(of: HTTPHeaders?.self)
                    promise.completeWithTask {
                        switch await authorize(head, channel: channel, logger: logger) {
                        case .success(let context):
                            accepted.withLockedValue { $0 = context }
                            return HTTPHeaders()
                        case .failure(let problem):
                            refusal.withLockedValue { $0 = problem }
                            return nil
                        }
                    }
                    return promise.futureResult
                },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        guard let context = accepted.withLockedValue({ $0 }) else { preconditionFailure("upgrading without an accepted principal") }
                        let (mailbox, connection) = session.handlers(for: context, eventLoop: channel.eventLoop)
                        let pipeline = channel.pipeline.syncOperations
                        try pipeline.addHandler(mailbox, position: .before(try pipeline.handler(type: WebSocketFrameEncoder.self)))
                        try pipeline.addHandler(connection)
                        return .webSocket
                    }
                }
            )
            let upgrade = NIOTypedHTTPServerUpgradeConfiguration(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try channel.pipeline.syncOperations.addHandler(HTTPConnectionStateHandler(idleTimeout: nil, logger: logger))
                        let http = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(isOutboundHalfClosureEnabled: true)
                        )
                        return refusal.withLockedValue { $0 }.map { .refused(http, $0) } ?? .http(http)
                    }
                }
            )
            var configuration = NIOUpgradableHTTPServerPipelineConfiguration<UpgradeResult>(upgradeConfiguration: upgrade)
            configuration.enablePipelining = false
            configuration.enableErrorHandling = false
            configuration.enableResponseHeaderValidation = false
            let pipeline = channel.pipeline.syncOperations
            let result = try pipeline.configureUpgradableHTTPServerPipeline(configuration: configuration)
            let decoder = try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try pipeline.addHandler(RequestPhaseObserver(deadline: deadline), position: .after(decoder))
            return Value(upgradeResult: result, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.upgradeResult.get() {
            case .http(let http):
                await handleHTTP(asyncChannel: http, logger: logger)
            case .refused(let http, let problem):
                try await http.executeThenClose { _, outbound in
                    let response = problem.response()
                    var head = HTTPResponse(status: response.status, headerFields: response.headers)
                    let body = (try? SwitchboardJSON.encode(problem)) ?? []
                    head.headerFields[.connection] = "close"
                    head.headerFields[.contentLength] = String(body.count)
                    try await outbound.write(contentsOf: [.head(head), .body(ByteBuffer(bytes: body)), .end(nil)])
                }
            case .webSocket:
                return
            }
        } catch {
            logger.debug("Connection ended with an error", metadata: ["sb.error": "\(error)"])
        }
    }

    /// Runs the upgrade request through the WebSocket router: the principal it accepted, or the problem
    /// to answer with.
    private func authorize(_ head: HTTPRequestHead, channel: any Channel, logger: Logger) async -> Result<RealtimeContext, Problem> {
        let request: Request
        do {
            request = Request(head: try HTTPRequest(head, secure: false, splitCookie: false), body: .init(buffer: ByteBuffer()))
        } catch {
            return .failure(Problem.badRequest(code: "invalid_request", "The upgrade request is not valid HTTP."))
        }
        var context = AppRequestContext(source: .init(channel: channel, logger: logger))
        let acceptance = WebSocketAcceptance()
        context.webSocketAcceptance = acceptance
        do {
            let response = try await webSocketResponder.respond(to: request, context: context)
            guard response.status == .ok, let principal = acceptance.principal else {
                return .failure(Problem(status: response.status, code: "upgrade_refused", detail: "The WebSocket upgrade was refused."))
            }
            var since: Int64?
            if let text = request.uri.queryParameters["since"] {
                guard let seq = Int64(text), seq >= 0 else {
                    return .failure(Problem.invalidParameter("since", "'since' must be a non-negative integer seq."))
                }
                since = seq
            }
            return .success(RealtimeContext(logger: context.logger, since: since, principal: principal))
        } catch {
            var problem = ProblemMiddleware<AppRequestContext>.problem(for: error, logger: logger)
            problem.instance = request.uri.path
            if problem.status == 401 { problem.headers[.wwwAuthenticate] = #"Bearer realm="switchboard""# }
            return .failure(problem)
        }
    }
}

/// Where the WebSocket router records the principal it let through, for the channel to upgrade with.
/// - Important: Thread-safe: set by the route, read by the channel, through a mutex.
final class WebSocketAcceptance: Sendable {
    private let accepted = Mutex<Principal?>(nil)

    var principal: Principal? { accepted.withLock { $0 } }

    func accept(_ principal: Principal) {
        accepted.withLock { $0 = principal }
    }
}

/// What an upgraded connection keeps of its upgrade request: the seq to resume after (`?since=`) and
/// the authenticated principal. The request itself is not kept: it would stay in memory for the
/// connection's life.
struct RealtimeContext: Sendable {
    let logger: Logger
    let since: Int64?
    let principal: Principal
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with the `/ws` upgrade, optionally over TLS with reloadable certificates.
    static func switchboard<WebSocketRouter: HTTPResponderBuilder>(
        webSocketRouter: WebSocketRouter,
        session: RealtimeSession,
        tls certificates: TLSCertificates?,
        limiter: ConnectionLimiter,
        limits: ConnectionDeadlineHandler.Limits,
        metrics: any MetricsFactory
    ) -> HTTPServerBuilder where WebSocketRouter.Responder.Context == AppRequestContext {
        let webSocketResponder = webSocketRouter.buildResponder()
        return .init { responder in
            let channel = WebSocketUpgradeChannel(
                responder: responder,
                webSocketResponder: webSocketResponder,
                session: session,
                limiter: limiter,
                limits: limits,
                metrics: metrics
            )
            guard let certificates else { return channel }
            return ReloadableTLSChannel(base: channel, certificates: certificates)
        }
    }
}
