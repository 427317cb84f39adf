import Hummingbird

/// Sends `HEAD` answers without a body (RFC 9110 §9.3.2), errors included, keeping the status and
/// headers, `Content-Length` among them. `DocumentedRoutes` routes `HEAD` to each `GET` handler.
struct HeadMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .head else { return try await next(request, context) }
        var response = try await next(request, context)
        response.body = ResponseBody(contentLength: response.body.contentLength) { _ in }
        return response
    }
}
