import Hummingbird
import Logging
import SwitchboardCore

/// Logs every request's method and target at `level`, with credentials in the target redacted
/// (`RedactedURL`): a WebSocket client's `?token=` or a key in a query must not reach the log.
struct AccessLogMiddleware<Context: RequestContext>: RouterMiddleware {
    let level: Logger.Level

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        context.logger.log(
            level: level,
            "Request",
            metadata: ["hb.request.path": .string(RedactedURL.redact(request.uri.description)), "hb.request.method": .string(request.method.rawValue)]
        )
        return try await next(request, context)
    }
}
