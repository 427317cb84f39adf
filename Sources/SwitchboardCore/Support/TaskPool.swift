import Synchronization

/// Tasks started on demand — a webhook endpoint's worker, a WebSocket's job runner, a plugin's event
/// delivery — run as children of the one task group `run()` holds, and their owner's service runs
/// `run()`: none outlives that service. Once `run()` is cancelled or `finish()` was called, the pool
/// takes no more tasks, cancels those still running and returns when every one has ended.
///
/// A task started before `run()` begins waits for it; one started after the pool ended never runs.
/// - Important: Thread-safe. `run()` is called once.
public final class TaskPool: Sendable {
    public typealias Operation = @Sendable () async -> Void
    private let tasks: AsyncStream<Operation>
    private let input: AsyncStream<Operation>.Continuation

    public init() {
        (tasks, input) = AsyncStream.makeStream()
    }

    /// Starts `operation` in the pool.
    /// - Returns: false when the pool has ended, and `operation` will not run.
    @discardableResult
    public func start(_ operation: @escaping Operation) -> Bool {
        if case .terminated = input.yield(operation) { return false }
        return true
    }

    /// Starts `operation` in the pool, to be cancelled on its own (`PooledTask.cancel()`) or with the pool.
    public func startCancellable(_ operation: @escaping Operation) -> PooledTask {
        let task = PooledTask()
        if !start({ await task.run(operation) }) { task.ended.notify() }
        return task
    }

    /// Runs every task started, until cancelled or `finish()`; then cancels those still running and
    /// returns once they ended.
    public func run() async {
        let input = input
        await withTaskCancellationHandler {
            await withDiscardingTaskGroup { group in
                for await operation in tasks { group.addTask(operation: operation) }
                group.cancelAll()
            }
        } onCancel: {
            input.finish()
        }
    }

    /// Ends the pool: `run()` cancels the tasks still running and returns once they ended.
    public func finish() {
        input.finish()
    }
}

/// A task of a `TaskPool` that can be cancelled on its own and awaited.
/// - Important: Thread-safe.
public final class PooledTask: Sendable {
    fileprivate let cancelled = CommitSignal()
    fileprivate let ended = CommitSignal()
    // Whether the operation began and whether the task was cancelled: one cancelled before it
    // began (its pool not yet run) never runs, and has ended at once.
    private let state = Mutex((hasBegun: false, isCancelled: false))

    /// Cancels the task: its operation sees `Task.isCancelled`, or never runs.
    public func cancel() {
        let hasBegun = state.withLock { state in
            state.isCancelled = true
            return state.hasBegun
        }
        cancelled.notify()
        if !hasBegun { ended.notify() }
    }

    /// Returns once the task ended (or never ran, the pool having ended).
    public func wait() async {
        await ended.wait(reaching: 1)
    }

    /// Runs `operation` until it returns or `cancel()` is called, whichever comes first.
    fileprivate func run(_ operation: @escaping TaskPool.Operation) async {
        let begins = state.withLock { state in
            state.hasBegun = !state.isCancelled
            return state.hasBegun
        }
        guard begins else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask(operation: operation)
            group.addTask { await self.cancelled.wait(reaching: 1) }
            await group.next()
            group.cancelAll()
        }
        ended.notify()
    }
}
