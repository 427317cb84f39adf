import SwitchboardCore
import Synchronization

/// The events the log's readers last read from a shared database (PostgreSQL), kept so that the
/// other readers following the log as closely — the realtime tail, webhooks, statistics, CRM, plugin
/// deliveries — take them from memory instead of each reading them again after every commit.
///
/// A read of the events after P that returned e1…ek covers (P, ek.position]: each position in it holds
/// one of them or never will, because every writer takes positions under one write lock and commits
/// before the next takes any, so no position below a committed one is still to come. The window holds
/// one such covered range, widened by each read that starts inside or at its end, and answers a read
/// only inside it: it never says that nothing follows, which only the database knows.
/// - Important: Thread-safe: one mutex.
package final class LogReadWindow: Sendable {
    private struct State {
        /// The position the window covers from (exclusive).
        var start: Int64 = 0
        /// Ascending, every one after `start`; the window covers up to the last.
        var entries: [RecentEvents.Entry] = []
        var dataBytes = 0
    }

    private let state = Mutex(State())
    private let capacity: Int
    private let maxDataBytes: Int

    package init(capacity: Int = 4_096, maxDataBytes: Int = 8 << 20) {
        precondition(capacity > 0 && maxDataBytes > 0)
        self.capacity = capacity
        self.maxDataBytes = maxDataBytes
    }

    /// The events after `position`, at most `limit`; nil unless the window covers the position after it.
    func events(after position: Int64, limit: Int) -> [Event]? {
        state.withLock { state -> [Event]? in
            guard let last = state.entries.last, position >= state.start, position < last.event.position else { return nil }
            return state.entries.events(after: position, limit: limit)
        }
    }

    /// Records what a read of the events after `position` returned from the database.
    func record(after position: Int64, _ read: [RecentEvents.Entry]) {
        guard !read.isEmpty else { return }
        state.withLock { state in
            if let last = state.entries.last?.event.position, position >= state.start, position <= last {
                // It starts inside what is covered or where it ends: the two ranges join.
                for entry in read where entry.event.position > last {
                    state.entries.append(entry)
                    state.dataBytes += entry.dataBytes
                }
            } else {
                state.start = position
                state.entries = read
                state.dataBytes = read.reduce(0) { $0 + $1.dataBytes }
            }
            var dropped = 0
            while dropped < state.entries.count - 1, state.entries.count - dropped > capacity || state.dataBytes > maxDataBytes {
                state.dataBytes -= state.entries[dropped].dataBytes
                state.start = state.entries[dropped].event.position
                dropped += 1
            }
            if dropped > 0 { state.entries.removeFirst(dropped) }
        }
    }
}
