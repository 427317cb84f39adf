import Foundation
import SwitchboardCore
import Synchronization

/// A small time-bounded cache of lookups on the request path (API keys, tenant settings).
///
/// Changes made through this server invalidate entries at once; so do those of other servers on the
/// database, when the cache follows the store's `settingsChanged` signal (`invalidatedBy`): an entry
/// loaded before the signal's latest generation is not used. Changes the store does not hear of (the
/// CLI on a SQLite file) are seen within `lifetime`.
/// - Important: Thread-safe: entries live behind a mutex.
package final class ExpiringCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Entry {
        var value: Value
        var expires: Double
        var generation: UInt64
    }

    private let entries = Mutex<[Key: Entry]>([:])
    private let lifetime: Double
    private let capacity: Int
    private let invalidatedBy: CommitSignal?

    /// Creates a cache whose entries live `lifetime` seconds, and no longer than `invalidatedBy`'s next
    /// signal; past `capacity` entries it starts over.
    package init(lifetime: Double = 5, capacity: Int = 10_000, invalidatedBy: CommitSignal? = nil) {
        self.lifetime = lifetime
        self.capacity = capacity
        self.invalidatedBy = invalidatedBy
    }

    /// The cached value of `key`, or the one `load` returns, which is cached when not nil.
    /// - Parameter now: seconds on the monotonic clock, when the caller has read it already.
    func value(_ key: Key, now: Double = MonotonicClock.seconds(), load: () async throws -> Value?) async rethrows -> Value? {
        // Read before the load: a change signalled during it leaves the entry stale.
        let generation = invalidatedBy?.generation ?? 0
        if let entry = entries.withLock({ $0[key] }), entry.expires > now, entry.generation == generation { return entry.value }
        guard let value = try await load() else { return nil }
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = Entry(value: value, expires: now + lifetime, generation: generation)
        }
        return value
    }

    /// Drops every entry whose value matches.
    func invalidate(where matches: (Value) -> Bool) {
        entries.withLock { entries in entries = entries.filter { !matches($0.value.value) } }
    }
}
