import Synchronization
import SwitchboardCore

/// The newest committed events, kept in memory by the writer so that the log's readers (the
/// realtime tail, webhooks, plugins, statistics), which follow it closely, neither read SQLite nor
/// parse event JSON again for events this process just wrote.
///
/// It holds every committed event with a position above `floor`, in position order, up to
/// `capacity`; it answers only for positions at or above the floor and leaves the rest to SQLite. Log
/// positions come from `AUTOINCREMENT` and are contiguous within one writer, a rolled-back savepoint
/// included; an event that does not follow the last one held (another process wrote to the file, or
/// a rollback left rows behind) moves the floor up to just below it, so nothing it missed is ever
/// answered from memory.
/// - Important: Thread-safe: the writer appends after each commit and readers copy under one mutex.
final class RecentEvents: Sendable {
    private struct State {
        var events: [Event] = []
        /// Index of the oldest event held.
        var head = 0
        var floor: Int64
    }

    private let state: Mutex<State>
    private let capacity: Int

    /// A cache holding nothing yet, for a log whose last committed position is `floor`.
    init(floor: Int64, capacity: Int = 4_096) {
        precondition(capacity > 0)
        self.state = Mutex(State(floor: floor))
        self.capacity = capacity
    }

    /// The events after `position`, at most `limit`; nil when events after it may be missing here.
    func events(after position: Int64, limit: Int) -> [Event]? {
        state.withLock { state -> [Event]? in
            guard position >= state.floor else { return nil }
            let held = state.events[state.head...]
            // Positions are ascending, so the first event after `position` is found by bisection.
            var low = held.startIndex
            var high = held.endIndex
            while low < high {
                let middle = (low + high) / 2
                if held[middle].position <= position { low = middle + 1 } else { high = middle }
            }
            return Array(held[low..<min(held.endIndex, low + max(limit, 0))])
        }
    }

    /// Adds events just committed, in position order.
    func append(_ committed: [Event]) {
        state.withLock { state in
            for event in committed {
                let last = state.head < state.events.count ? state.events[state.events.count - 1].position : state.floor
                if event.position != last + 1 {
                    // Something between them is only in SQLite: answer only from this event on.
                    state.events.removeAll(keepingCapacity: true)
                    state.head = 0
                    state.floor = event.position - 1
                }
                state.events.append(event)
            }
            let excess = state.events.count - state.head - capacity
            if excess > 0 {
                state.head += excess
                state.floor = state.events[state.head - 1].position
            }
            // Compact once the dropped prefix outgrows what is held.
            if state.head > capacity {
                state.events.removeFirst(state.head)
                state.head = 0
            }
        }
    }
}
