import Foundation
import Synchronization

/// A small time-bounded cache of lookups on the request path (API keys, tenant settings).
///
/// Changes made through this server invalidate entries at once; changes made by another process
/// (the CLI on the same database) are seen within `lifetime`.
/// - Important: Thread-safe: entries live behind a mutex.
package final class ExpiringCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Entry {
        var value: Value
        var expires: Double
    }

    private let entries = Mutex<[Key: Entry]>([:])
    private let lifetime: Double
    private let capacity: Int

    /// Creates a cache whose entries live `lifetime` seconds; past `capacity` entries it starts over.
    package init(lifetime: Double = 5, capacity: Int = 10_000) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    /// The cached value of `key`, or the one `load` returns, which is cached when not nil.
    /// - Parameter now: seconds on the monotonic clock, when the caller has read it already.
    func value(_ key: Key, now: Double = MonotonicClock.seconds(), load: () async throws -> Value?) async rethrows -> Value? {
        if let entry = entries.withLock({ $0[key] }), entry.expires > now { return entry.value }
        guard let value = try await load() else { return nil }
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = Entry(value: value, expires: now + lifetime)
        }
        return value
    }

    /// Drops every entry whose value matches.
    func invalidate(where matches: (Value) -> Bool) {
        entries.withLock { entries in entries = entries.filter { !matches($0.value.value) } }
    }
}
