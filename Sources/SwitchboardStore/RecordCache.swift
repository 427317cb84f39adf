import SwitchboardCore
import Synchronization

/// Records read recently by id, so that a run of reads of the same agent or conversation (consoles
/// polling, permission checks before every message an agent sends) skips the database.
///
/// A cached record is never older than a read from SQLite could return:
/// - the writer invalidates every record a commit changed after `COMMIT` and before any caller
///   resumes (`ChatTransaction` names them as it saves them);
/// - a read whose snapshot began before the latest invalidation stores nothing, because it may hold a
///   version older than that commit: `insert` compares the snapshot's commit count with the count
///   at which the cache last invalidated a record (any record, which keeps the cache free of per-key
///   bookkeeping and refuses few inserts: records change rarely next to how often they are read);
/// - an entry lives only as long as the read transaction it came from could have
///   (`ReadSnapshot.lifetime` from the snapshot's start), the bound on how long a commit
///   from another process stays unseen.
///
/// - Important: Thread-safe: entries live behind one mutex, held for a dictionary operation.
final class RecordCache<Record: Sendable>: Sendable {
    /// A record's tenant and id.
    typealias Key = RecordKey

    private struct Entry {
        let record: Record
        let expires: ContinuousClock.Instant
    }

    private struct State {
        var entries: [Key: Entry] = [:]
        /// The writer's commit count at the latest invalidation.
        var invalidatedAt: UInt64 = 0
    }

    private let state = Mutex(State())
    private let capacity: Int

    /// A cache of at most `capacity` records; a full cache drops its expired entries, then all of them.
    init(capacity: Int = 10_000) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    /// The record cached under `key`, unless it expired.
    func record(_ key: Key, now: ContinuousClock.Instant = .now) -> Record? {
        state.withLock { state in
            guard let entry = state.entries[key], entry.expires > now else { return nil }
            return entry.record
        }
    }

    /// Caches `record`, read in `snapshot`, unless a commit after the snapshot began changed records.
    func insert(_ record: Record, for key: Key, readIn snapshot: ReadSnapshot) {
        let expires = snapshot.started.advanced(by: ReadSnapshot.lifetime)
        state.withLock { state in
            guard snapshot.commits >= state.invalidatedAt else { return }
            if state.entries.count >= capacity, state.entries[key] == nil {
                let now = ContinuousClock.now
                state.entries = state.entries.filter { $0.value.expires > now }
                if state.entries.count >= capacity { state.entries.removeAll(keepingCapacity: true) }
            }
            state.entries[key] = Entry(record: record, expires: expires)
        }
    }

    /// Drops the records a commit changed; `commits` is the writer's commit count including it.
    func invalidate(_ keys: some Sequence<Key>, commits: UInt64) {
        state.withLock { state in
            state.invalidatedAt = max(state.invalidatedAt, commits)
            for key in keys { state.entries[key] = nil }
        }
    }

    /// Drops every record: commits may have changed any of them.
    func invalidateAll(commits: UInt64) {
        state.withLock { state in
            state.invalidatedAt = max(state.invalidatedAt, commits)
            state.entries.removeAll(keepingCapacity: true)
        }
    }
}

/// A record's identity: the key of `RecordCache`.
package struct RecordKey: Hashable, Sendable {
    /// The tenant the record belongs to: the same id asked for by another tenant is another key.
    let tenant: String
    /// The record's id.
    let id: String
}

/// A record a write transaction saved, whose cached copy its commit makes stale.
package enum ChangedRecord: Sendable, Equatable {
    /// An agent, for `SQLStore`'s agent cache.
    case agent(RecordKey)
    /// A conversation, for `SQLStore`'s conversation cache.
    case conversation(RecordKey)
    /// Settings the request path caches (`SQLStore.settingsChanged`).
    case settings

    /// The records as text for another process (a PostgreSQL notification): a JSON array of
    /// `["a" or "c", tenant, id]` and `["s"]`.
    package static func encode(_ records: [ChangedRecord]) -> String {
        let items: [JSONValue] = records.map { record in
            switch record {
            case .agent(let key): ["a", .string(key.tenant), .string(key.id)]
            case .conversation(let key): ["c", .string(key.tenant), .string(key.id)]
            case .settings: ["s"]
            }
        }
        return String(decoding: (try? SwitchboardJSON.encode(JSONValue.array(items))) ?? [], as: UTF8.self)
    }

    /// The records `encode` wrote; nil for any other text (every copy must then be dropped).
    package static func decode(_ text: String) -> [ChangedRecord]? {
        guard case .array(let items)? = try? JSONValue(parsing: text) else { return nil }
        var records: [ChangedRecord] = []
        for item in items {
            if item == ["s"] {
                records.append(.settings)
                continue
            }
            guard case .array(let parts) = item, parts.count == 3, case .string(let kind) = parts[0], case .string(let tenant) = parts[1],
                case .string(let id) = parts[2]
            else { return nil }
            switch kind {
            case "a": records.append(.agent(RecordKey(tenant: tenant, id: id)))
            case "c": records.append(.conversation(RecordKey(tenant: tenant, id: id)))
            default: return nil
            }
        }
        return records
    }
}
