import SwitchboardCore
import Synchronization

/// The newest committed events, kept in memory by the writer so that the log's readers (the
/// realtime tail, webhooks, plugins, statistics), which follow it closely, neither read SQLite nor
/// parse event JSON again for events this process just wrote.
///
/// It holds every committed event with a position above `floor`, in position order, up to a number
/// of events and a number of bytes of event data (a message's content can be 64 KiB); it answers only
/// for positions at or above the floor and leaves the rest to SQLite. Log positions come from
/// `AUTOINCREMENT` and are contiguous within one writer, a rolled-back savepoint included; an event
/// that does not follow the last one held (another process wrote to the file, or a rollback left rows
/// behind) moves the floor up to just below it, so nothing it missed is ever answered from memory.
/// - Important: Thread-safe: the writer appends after each commit and readers copy under one mutex.
package final class RecentEvents: Sendable {
    /// A committed event and the size of its data as stored JSON.
    package struct Entry: Sendable {
        package var event: Event
        package let dataBytes: Int
    }

    private struct State {
        var entries: [Entry] = []
        /// Index of the oldest entry held.
        var head = 0
        var dataBytes = 0
        var floor: Int64
    }

    private let state: Mutex<State>
    private let capacity: Int
    private let maxDataBytes: Int

    /// A cache holding nothing yet, for a log whose last committed position is `floor`.
    init(floor: Int64, capacity: Int = 4_096, maxDataBytes: Int = 8 << 20) {
        precondition(capacity > 0 && maxDataBytes > 0)
        self.state = Mutex(State(floor: floor))
        self.capacity = capacity
        self.maxDataBytes = maxDataBytes
    }

    /// The events after `position`, at most `limit`; nil when events after it may be missing here.
    func events(after position: Int64, limit: Int) -> [Event]? {
        state.withLock { state -> [Event]? in
            guard position >= state.floor else { return nil }
            return state.entries[state.head...].events(after: position, limit: limit)
        }
    }

    /// Adds events just committed, in position order.
    func append(_ committed: [Entry]) {
        state.withLock { state in
            for entry in committed {
                let last = state.head < state.entries.count ? state.entries[state.entries.count - 1].event.position : state.floor
                if entry.event.position != last + 1 {
                    // Something between them is only in SQLite: answer only from this event on.
                    state.entries.removeAll(keepingCapacity: true)
                    state.head = 0
                    state.dataBytes = 0
                    state.floor = entry.event.position - 1
                }
                state.entries.append(entry)
                state.dataBytes += entry.dataBytes
            }
            while state.head < state.entries.count, state.entries.count - state.head > capacity || state.dataBytes > maxDataBytes {
                let dropped = state.entries[state.head]
                state.head += 1
                state.dataBytes -= dropped.dataBytes
                state.floor = dropped.event.position
            }
            // Compact once the dropped prefix outgrows what is held.
            if state.head > capacity / 2, state.head > state.entries.count - state.head {
                state.entries.removeFirst(state.head)
                state.head = 0
            }
        }
    }
}

extension RandomAccessCollection where Element == RecentEvents.Entry, Index == Int {
    /// The events after `position`, at most `limit`, of entries in ascending position order: the
    /// first is found by bisection.
    func events(after position: Int64, limit: Int) -> [Event] {
        var low = startIndex
        var high = endIndex
        while low < high {
            let middle = (low + high) / 2
            if self[middle].event.position <= position { low = middle + 1 } else { high = middle }
        }
        return self[low..<Swift.min(endIndex, low + Swift.max(limit, 0))].map(\.event)
    }
}
