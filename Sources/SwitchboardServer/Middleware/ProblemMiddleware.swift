import HTTPTypes
import Hummingbird
import Logging
import SwitchboardCore

/// Turns every error into an RFC 9457 problem response; internal error text is logged, never sent.
/// A path that is served, asked with another method, is answered 405 with `Allow`.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Every route, to tell an unknown path from a method the path does not take.
    let routes: RouteRegistry

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let allowed = routes.methods(servedOn: Substring(request.uri.path))
            guard !allowed.isEmpty else { return respond(Self.problem(for: error, logger: context.logger), to: request, context: context) }
            var problem = Problem(
                status: .methodNotAllowed,
                code: "method_not_allowed",
                detail: "This path takes \(allowed.joined(separator: ", ")), not \(request.method.rawValue)."
            )
            problem.headers[.allow] = allowed.joined(separator: ", ")
            return respond(problem, to: request, context: context)
        } catch {
            return respond(Self.problem(for: error, logger: context.logger), to: request, context: context)
        }
    }

    private func respond(_ problem: Problem, to request: Request, context: Context) -> Response {
        var problem = problem
        problem.instance = request.uri.path
        problem.requestID = context.logger[metadataKey: "sb.request_id"]?.description
        if problem.status == 401 { problem.headers[.wwwAuthenticate] = #"Bearer realm="switchboard""# }
        return problem.response()
    }

    static func problem(for error: any Error, logger: Logger) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let error as SwitchboardError:
            if error.kind == .unavailable { logger.warning("Request failed: dependency unavailable", metadata: ["sb.error": "\(error.code)"]) }
            return Problem(error)
        case let error as HTTPError:
            switch error.status {
            case .notFound:
                return Problem(status: .notFound, code: "route_not_found", detail: "No route matches this method and path.")
            case .contentTooLarge:
                return Problem(status: .contentTooLarge, code: "body_too_large", detail: "The request body exceeds the server's limit.")
            default:
                return Problem(status: error.status, code: "http_error", detail: error.body ?? error.status.reasonPhrase)
            }
        default:
            logger.error("Unhandled error", metadata: ["sb.error": "\(error)"])
            return Problem(status: .internalServerError, code: "internal_error", detail: "The server failed to handle this request.")
        }
    }
}
