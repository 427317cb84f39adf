import HTTPTypes
import Hummingbird

/// Adds `Strict-Transport-Security` to every response of the TLS listener, errors included.
struct HSTSMiddleware<Context: RequestContext>: RouterMiddleware {
    let value: String

    init(maxAgeSeconds: Int) {
        self.value = "max-age=\(maxAgeSeconds)"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.strictTransportSecurity] = value
        return response
    }
}

extension HTTPField.Name {
    static let strictTransportSecurity = Self("Strict-Transport-Security")!
}
