import Synchronization

/// Wakes event-log consumers after a commit.
///
/// A consumer reads the current `generation`, catches up from its cursor, then waits for a
/// generation after the one it read; a commit that lands in between is never missed.
/// - Important: Thread-safe; `notify` may be called from any thread, including the store's writer.
public final class CommitSignal: Sendable {
    private struct State {
        var generation: UInt64 = 0
        var nextWaiterID = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    }

    // Guards the generation and the parked waiters so a notify and a wait never race past each other.
    private let state = Mutex(State())

    /// Creates a signal at generation 0.
    public init() {}

    /// The number of notifications so far.
    public var generation: UInt64 { state.withLock { $0.generation } }

    /// Advances the generation and wakes every waiter.
    public func notify() {
        let waiters = state.withLock { state in
            state.generation &+= 1
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once the generation is past `seen`, or when the task is cancelled.
    public func wait(after seen: UInt64) async {
        let id = state.withLock { state -> Int in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let isReady = state.withLock { state -> Bool in
                    if state.generation != seen || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if isReady { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }

    /// Returns once the generation is past `seen` or at `deadline` on `clock`, whichever comes first,
    /// or when the task is cancelled.
    /// - Returns: false when the deadline came first.
    @discardableResult
    public func wait<C: Clock>(after seen: UInt64, until deadline: C.Instant, clock: C) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await self.wait(after: seen)
                return true
            }
            group.addTask { (try? await clock.sleep(until: deadline, tolerance: nil)) == nil }
            let isSignalled = await group.next() ?? true
            group.cancelAll()
            return isSignalled
        }
    }
}
