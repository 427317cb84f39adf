import Foundation
import Synchronization

/// Rate limits by the generic cell rate algorithm (GCRA): each key may spend its quota in any pattern
/// within a window, refilled continuously; one number of state per key.
///
/// - Important: Thread-safe: the state lives behind one mutex, held for a dictionary lookup.
final class RateLimiter: Sendable {
    /// A quota of requests per window, named for the `RateLimit` headers.
    struct Policy: Hashable, Sendable {
        var name: String
        var quota: Int
        var windowSeconds: Int

        /// `quota` requests per minute.
        static func perMinute(_ name: String, _ quota: Int) -> Policy {
            Policy(name: name, quota: quota, windowSeconds: 60)
        }

        /// The policy as an item of `RateLimit-Policy`.
        var headerItem: String { "\"\(name)\";q=\(quota);w=\(windowSeconds)" }
    }

    /// The outcome of one request against one policy.
    struct Decision: Sendable {
        var policy: Policy
        var isAllowed: Bool
        /// Requests left in the window after this one.
        var remaining: Int
        /// Seconds until the quota is whole again.
        var resetSeconds: Int
        /// Seconds to wait before a retry can pass, for a refused request.
        var retryAfterSeconds: Int
        /// Whether this refusal is the first since the key was last allowed, so it is reported once.
        var isFirstRefusal: Bool

        /// The decision as an item of `RateLimit`.
        var headerItem: String { "\"\(policy.name)\";r=\(remaining);t=\(resetSeconds)" }
    }

    private struct Cell {
        var theoreticalArrival: Double
        var isRefusing: Bool
    }

    private let cells = Mutex<[String: Cell]>([:])
    private let now: @Sendable () -> Double
    private let sweepThreshold: Int

    /// Creates a limiter.
    /// - Parameters:
    ///   - sweepThreshold: how many keys trigger dropping those whose quota is whole again.
    ///   - now: seconds on a monotonic clock.
    init(sweepThreshold: Int = 100_000, now: @escaping @Sendable () -> Double = { ProcessInfo.processInfo.systemUptime }) {
        self.sweepThreshold = sweepThreshold
        self.now = now
    }

    /// Counts one request of `key` against `policy`, unless refused (a refused request costs nothing).
    func spend(_ key: String, _ policy: Policy) -> Decision {
        evaluate(key, policy, spending: true)
    }

    /// What `spend` would decide, without counting a request.
    func peek(_ key: String, _ policy: Policy) -> Decision {
        evaluate(key, policy, spending: false)
    }

    private func evaluate(_ key: String, _ policy: Policy, spending: Bool) -> Decision {
        let now = now()
        let interval = Double(policy.windowSeconds) / Double(policy.quota)
        let window = Double(policy.windowSeconds)
        return cells.withLock { cells in
            var cell = cells[key] ?? Cell(theoreticalArrival: now, isRefusing: false)
            let arrival = max(cell.theoreticalArrival, now) + interval
            let isAllowed = arrival - now <= window
            let wasRefusing = cell.isRefusing
            if spending {
                if isAllowed { cell.theoreticalArrival = arrival }
                cell.isRefusing = !isAllowed
                if cells.count >= sweepThreshold, cells[key] == nil {
                    cells = cells.filter { $0.value.theoreticalArrival > now }
                }
                cells[key] = cell
            }
            let occupied = (isAllowed ? arrival : max(cell.theoreticalArrival, now)) - now
            return Decision(
                policy: policy,
                isAllowed: isAllowed,
                remaining: max(0, Int(((window - occupied) / interval).rounded(.down))),
                resetSeconds: Int(occupied.rounded(.up)),
                retryAfterSeconds: isAllowed ? 0 : max(1, Int((arrival - window - now).rounded(.up))),
                isFirstRefusal: !isAllowed && !wasRefusing
            )
        }
    }
}
