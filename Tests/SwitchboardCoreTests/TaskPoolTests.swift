import SwitchboardCore
import Testing

/// Tasks started on demand belong to a pool that a service runs: none outlives it.
@Suite(.timeLimit(.minutes(1))) struct TaskPoolTests {
    /// Runs until cancelled, recording that it began and that it saw the cancellation.
    static func untilCancelled(_ began: CommitSignal, _ cancelled: CommitSignal) -> TaskPool.Operation {
        {
            began.notify()
            await CommitSignal().wait(reaching: 1)
            if Task.isCancelled { cancelled.notify() }
        }
    }

    @Test func tasksStartedBeforeTheRunWaitForItAndTheEndCancelsThoseStillRunning() async {
        let pool = TaskPool()
        let began = CommitSignal(), cancelled = CommitSignal()
        #expect(pool.start(Self.untilCancelled(began, cancelled)))
        #expect(pool.start(Self.untilCancelled(began, cancelled)))
        async let run: Void = pool.run()
        await began.wait(reaching: 2)
        #expect(cancelled.generation == 0)
        pool.finish()
        await run
        // The run returned only after both had ended, cancelled.
        #expect(cancelled.generation == 2)
        #expect(!pool.start {})
    }

    @Test func cancellingTheRunEndsThePoolLikeFinish() async {
        let pool = TaskPool()
        let began = CommitSignal(), cancelled = CommitSignal()
        let run = Task { await pool.run() }
        pool.start(Self.untilCancelled(began, cancelled))
        await began.wait(reaching: 1)
        run.cancel()
        await run.value
        #expect(cancelled.generation == 1)
    }

    @Test func aPooledTaskIsCancelledAloneAndAwaited() async {
        let pool = TaskPool()
        async let run: Void = pool.run()
        let began = CommitSignal(), cancelled = CommitSignal()
        let first = pool.startCancellable(Self.untilCancelled(began, cancelled))
        let second = pool.startCancellable(Self.untilCancelled(began, cancelled))
        await began.wait(reaching: 2)
        first.cancel()
        await first.wait()
        #expect(cancelled.generation == 1)
        pool.finish()
        await run
        await second.wait()
        #expect(cancelled.generation == 2)
    }

    @Test func aTaskCancelledBeforeItsPoolRunsNeverRuns() async {
        let pool = TaskPool()
        let ran = CommitSignal()
        let task = pool.startCancellable { ran.notify() }
        task.cancel()
        await task.wait()
        pool.finish()
        await pool.run()
        #expect(ran.generation == 0)
    }

    @Test func aTaskStartedAfterThePoolEndedNeverRunsAndHasEnded() async {
        let pool = TaskPool()
        pool.finish()
        await pool.run()
        let ran = CommitSignal()
        #expect(!pool.start { ran.notify() })
        await pool.startCancellable { ran.notify() }.wait()
        #expect(ran.generation == 0)
    }
}
