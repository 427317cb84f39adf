import Synchronization

/// Wakes event-log consumers after a commit.
///
/// A consumer reads the current `generation`, catches up from its cursor, then waits for a
/// generation after the one it read; a commit that lands in between is never missed. The event log
/// advances the generation by the number of events each commit appended, so a consumer can also wait
/// until a number of events is waiting for it.
/// - Important: Thread-safe; `notify` may be called from any thread, including the store's writer.
public final class CommitSignal: Sendable {
    private struct Waiter {
        let target: UInt64
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var generation: UInt64 = 0
        var nextWaiterID = 0
        var waiters: [Int: Waiter] = [:]
    }

    // Guards the generation and the parked waiters so a notify and a wait never race past each other.
    private let state = Mutex(State())

    /// Creates a signal at generation 0.
    public init() {}

    /// How far notifications advanced the signal so far.
    public var generation: UInt64 { state.withLock { $0.generation } }

    /// Advances the generation by `count` and wakes every waiter whose target it reached.
    public func notify(advancingBy count: UInt64 = 1) {
        let ready = state.withLock { state -> [Waiter] in
            state.generation &+= count
            var ready: [Waiter] = []
            for (id, waiter) in state.waiters where waiter.target <= state.generation {
                ready.append(waiter)
                state.waiters.removeValue(forKey: id)
            }
            return ready
        }
        for waiter in ready { waiter.continuation.resume() }
    }

    /// Returns once the generation is past `seen`, or when the task is cancelled.
    public func wait(after seen: UInt64) async {
        await wait(reaching: seen &+ 1)
    }

    /// Returns once the generation is at least `target`, or when the task is cancelled.
    public func wait(reaching target: UInt64) async {
        let id = state.withLock { state -> Int in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let isReady = state.withLock { state -> Bool in
                    if state.generation >= target || Task.isCancelled { return true }
                    state.waiters[id] = Waiter(target: target, continuation: continuation)
                    return false
                }
                if isReady { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.continuation.resume()
        }
    }

    /// Returns once the generation is past `seen` or at `deadline` on `clock`, whichever comes first,
    /// or when the task is cancelled.
    /// - Returns: false when the deadline came first.
    @discardableResult
    public func wait<C: Clock>(after seen: UInt64, until deadline: C.Instant, clock: C) async -> Bool {
        await wait(reaching: seen &+ 1, until: deadline, clock: clock)
    }

    /// Returns once the generation is at least `target` or at `deadline` on `clock`, whichever comes
    /// first, or when the task is cancelled.
    /// - Returns: false when the deadline came first.
    @discardableResult
    public func wait<C: Clock>(reaching target: UInt64, until deadline: C.Instant, clock: C) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await self.wait(reaching: target)
                return true
            }
            group.addTask { (try? await clock.sleep(until: deadline, tolerance: nil)) == nil }
            let isSignalled = await group.next() ?? true
            group.cancelAll()
            return isSignalled
        }
    }
}
