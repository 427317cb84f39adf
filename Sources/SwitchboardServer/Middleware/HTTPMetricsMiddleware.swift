import CoreMetrics
import Hummingbird
import Synchronization

/// Counts requests and records their latency by method, route (the matched path pattern, such as
/// `/api/v1/agents/{id}`) and status: `sb_http_requests_total` and `sb_http_request_duration_seconds`.
///
/// Added outside `ProblemMiddleware`, so errors are counted with the status their problem response has.
struct HTTPMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let factory: any MetricsFactory
    /// Metric handles by route, method and status, so a request costs one dictionary lookup.
    private let handles = Handles()

    private final class Handles: Sendable {
        let byKey = Mutex<[Key: (counter: Counter, timer: Timer)]>([:])
    }

    private struct Key: Hashable {
        let route: String
        let method: HTTPRequest.Method
        let status: Int
    }

    init(factory: any MetricsFactory) {
        self.factory = factory
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let key = Key(route: context.endpointPath ?? "unmatched", method: request.method, status: response.status.code)
        let (counter, timer) = handles.byKey.withLock { handles in
            if let existing = handles[key] { return existing }
            let dimensions = [("method", key.method.rawValue), ("route", key.route), ("status", String(key.status))]
            let made = (
                Counter(label: "sb_http_requests_total", dimensions: dimensions, factory: factory),
                Timer(label: "sb_http_request_duration_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds, factory: factory)
            )
            handles[key] = made
            return made
        }
        counter.increment()
        timer.record(ContinuousClock.now - start)
        return response
    }
}

extension Timer {
    /// Records `duration`, in whole nanoseconds (swift-metrics takes no `Duration`).
    func record(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
