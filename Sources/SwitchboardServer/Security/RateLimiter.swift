import Foundation
import SwitchboardCore
import Synchronization

/// Rate limits by the generic cell rate algorithm (GCRA): each key may spend its quota in any pattern
/// within a window, refilled continuously; one number of state per key.
///
/// In a cluster of N live servers behind a load balancer that spreads requests evenly, each server
/// allows 1/N of every quota (`share(among:)`), so the cluster as a whole allows the configured one
/// without a database round trip per request; the headers still name the configured quota.
///
/// - Important: Thread-safe: the state lives behind one mutex, held for a dictionary lookup.
package final class RateLimiter: Sendable {
    /// The most requests per minute a tenant or key may set as its own limit (as the server's own
    /// settings allow): the limiter's arithmetic stays far from `Int`'s bounds.
    static let settableLimits = 1...10_000_000

    /// Throws `invalid_field` naming `rate_limit` unless `limit` is one a tenant or key may set.
    static func checkSettable(_ limit: Int) throws {
        guard settableLimits.contains(limit) else {
            throw SwitchboardError.invalidField("rate_limit", "The limit is requests per minute, from 1 to 10000000.")
        }
    }

    /// What a quota is counted against.
    enum Key: Hashable, Sendable {
        /// A client address (4 or 16 bytes; empty when the peer is not an IP socket).
        case address([UInt8])
        /// Failed authentications from a client address.
        case failures([UInt8])
        /// A credential's subject within its tenant: subjects of tokens are chosen by each tenant's
        /// identity providers, so the same `sub` in two tenants is two credentials.
        case credential(tenant: String, subject: String)
        case tenant(String)
    }

    /// A quota of requests per window, named for the `RateLimit` headers. A class: every decision
    /// carries its policy, and copying one then retains a single object instead of three strings.
    final class Policy: Equatable, Sendable {
        let name: String
        let quota: Int
        let windowSeconds: Int
        /// The policy as an item of `RateLimit-Policy`.
        let headerItem: String
        /// The start of its item in `RateLimit`.
        let stateItemPrefix: String

        init(name: String, quota: Int, windowSeconds: Int) {
            self.name = name
            self.quota = quota
            self.windowSeconds = windowSeconds
            self.headerItem = "\"\(name)\";q=\(quota);w=\(windowSeconds)"
            self.stateItemPrefix = "\"\(name)\";r="
        }

        /// `quota` requests per minute.
        static func perMinute(_ name: String, _ quota: Int) -> Policy {
            Policy(name: name, quota: quota, windowSeconds: 60)
        }

        static func == (lhs: Policy, rhs: Policy) -> Bool {
            lhs === rhs || (lhs.name == rhs.name && lhs.quota == rhs.quota && lhs.windowSeconds == rhs.windowSeconds)
        }
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

        /// The decision as an item of `RateLimit`, built in one allocation.
        var headerItem: String {
            var item = ""
            item.reserveCapacity(policy.stateItemPrefix.utf8.count + 24)
            item += policy.stateItemPrefix
            item += String(remaining)
            item += ";t="
            item += String(resetSeconds)
            return item
        }
    }

    private struct Cell {
        var theoreticalArrival: Double
        var isRefusing: Bool
    }

    private let cells = Mutex<[Key: Cell]>([:])
    private let sweepThreshold: Int
    /// How many servers share each quota.
    private let servers = Atomic(1)

    /// Creates a limiter; past `sweepThreshold` keys it drops those whose quota is whole again.
    package init(sweepThreshold: Int = 100_000) {
        self.sweepThreshold = sweepThreshold
    }

    /// Splits every quota among `count` live servers (at least 1).
    func share(among count: Int) {
        servers.store(max(1, count), ordering: .relaxed)
    }

    /// Counts one request of `key` against `policy`, unless refused (a refused request costs nothing).
    /// - Parameter now: seconds on the monotonic clock (`MonotonicClock`).
    func spend(_ key: Key, _ policy: Policy, at now: Double) -> Decision {
        evaluate(key, policy, spending: true, now: now)
    }

    /// What `spend` would decide, without counting a request.
    func peek(_ key: Key, _ policy: Policy, at now: Double) -> Decision {
        evaluate(key, policy, spending: false, now: now)
    }

    private func evaluate(_ key: Key, _ policy: Policy, spending: Bool, now: Double) -> Decision {
        let interval = Double(policy.windowSeconds) * Double(servers.load(ordering: .relaxed)) / Double(policy.quota)
        let window = Double(policy.windowSeconds)
        // Decides against a cell and, when spending, updates it in place (one hash lookup).
        func decide(_ cell: inout Cell) -> Decision {
            let arrival = max(cell.theoreticalArrival, now) + interval
            let isAllowed = arrival - now <= window
            let wasRefusing = cell.isRefusing
            if spending {
                if isAllowed { cell.theoreticalArrival = arrival }
                cell.isRefusing = !isAllowed
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
        return cells.withLock { cells in
            let fresh = Cell(theoreticalArrival: now, isRefusing: false)
            guard spending else {
                var copy = cells[key] ?? fresh
                return decide(&copy)
            }
            if cells.count >= sweepThreshold, cells[key] == nil {
                cells = cells.filter { $0.value.theoreticalArrival > now }
            }
            return decide(&cells[key, default: fresh])
        }
    }
}
