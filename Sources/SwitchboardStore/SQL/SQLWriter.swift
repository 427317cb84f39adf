import Foundation
import Logging
import SwitchboardCore

/// The single writer of a database: runs write jobs on its own thread and commits them in groups.
///
/// Every job that is waiting when the writer wakes joins one transaction (up to `maxBatch`), each
/// inside its own savepoint, so a job that throws rolls back alone while the others commit. Callers
/// resume only after the group's `COMMIT` returned: a result a caller sees is durable.
///
/// The connection is the engine's: SQLite's one writer connection, or a PostgreSQL connection that is
/// replaced by a new one when it breaks (the batch it broke in fails; the next opens another).
///
/// - Important: Thread-safe. Jobs run serially on the writer thread, never on a caller's thread.
///   `@unchecked Sendable`: the queue and flags are only touched while holding `condition` (or
///   `stopped` for `hasStopped`), and the connection only on the writer thread.
package final class SQLWriter: @unchecked Sendable {
    private var connection: (any SQLConnection)?
    private let open: () throws -> any SQLConnection
    private let maxBatch: Int
    private let hooks: Hooks
    private let onCommitted: @Sendable (Commit) -> Void
    private let observer: any StoreObserver
    private let logger: Logger
    // Guards `queue` and `isStopping`; the writer thread waits on it when there is no work.
    private let condition = NSCondition()
    private var queue: [any WriteJob] = []
    private var isStopping = false
    private let stopped = NSCondition()
    private var hasStopped = false
    /// What the engine does around each commit (SQLite's readers renew their snapshots).
    package struct Hooks: Sendable {
        /// Runs just before `COMMIT`, on the writer's connection inside its transaction.
        let beforeCommit: @Sendable (any SQLConnection) throws -> Void
        /// Runs after `COMMIT`, before any caller resumes; returns how many commits were made, this one included.
        let afterCommit: @Sendable () -> UInt64

        package init(beforeCommit: @escaping @Sendable (any SQLConnection) throws -> Void, afterCommit: @escaping @Sendable () -> UInt64) {
            self.beforeCommit = beforeCommit
            self.afterCommit = afterCommit
        }
    }

    /// What a group commit changed, handed on before any of its callers resumes.
    package struct Commit {
        /// The events it inserted, in position order.
        let events: [RecentEvents.Entry]
        /// The cached records it saved.
        let changedRecords: [ChangedRecord]
        /// How many commits the writer made, this one included.
        let commits: UInt64
    }

    /// Starts the writer thread (named `threadName`, at most 15 bytes) over `connection`, which it then
    /// owns, and over the connections `open` makes when the current one broke; `onCommitted` runs on it
    /// after each commit that inserted events or saved cached records.
    package init(
        connection: (any SQLConnection)?,
        open: @escaping () throws -> any SQLConnection,
        threadName: String,
        maxBatch: Int,
        hooks: Hooks,
        observer: any StoreObserver,
        logger: Logger,
        onCommitted: @escaping @Sendable (Commit) -> Void
    ) {
        self.observer = observer
        self.connection = connection
        self.open = open
        self.maxBatch = maxBatch
        self.hooks = hooks
        self.logger = logger
        self.onCommitted = onCommitted
        Thread.start(named: threadName) { [self] in run() }
    }

    /// Runs `body` in the next group commit and returns its result once the group is durable.
    /// - Throws: what `body` throws (its savepoint is rolled back), or the commit's error.
    @discardableResult
    package func write<Result: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> Result) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            enqueue(TypedWriteJob(body: body, continuation: continuation))
        }
    }

    /// Runs `body` in a later group commit without waiting for it; failures are logged. Queued like
    /// every write, it is done before `stop()` returns.
    package func submit(_ body: @escaping @Sendable (any SQLConnection) throws -> Void) {
        enqueue(BackgroundWriteJob(body: body, logger: logger))
    }

    /// Finishes every queued job, closes the connection, then stops the thread. Later writes fail
    /// with `unavailable`.
    package func stop() {
        condition.lock()
        isStopping = true
        condition.signal()
        condition.unlock()
        stopped.lock()
        while !hasStopped { stopped.wait() }
        stopped.unlock()
    }

    private func enqueue(_ job: any WriteJob) {
        condition.lock()
        if isStopping {
            condition.unlock()
            job.finish(SQLStore.closedError)
            return
        }
        queue.append(job)
        condition.signal()
        condition.unlock()
    }

    private func run() {
        while let batch = nextBatch() {
            let start = ContinuousClock.now
            guard let connection = usableConnection(failing: batch) else { continue }
            let committed = commit(batch, on: connection)
            observer.transactionEnded(after: ContinuousClock.now - start, committed: committed)
        }
        connection?.close()
        stopped.lock()
        hasStopped = true
        stopped.broadcast()
        stopped.unlock()
    }

    /// Waits for work; nil once stopping and the queue is empty.
    private func nextBatch() -> [any WriteJob]? {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty && !isStopping { condition.wait() }
        if queue.isEmpty { return nil }
        let count = min(queue.count, maxBatch)
        let batch = Array(queue.prefix(count))
        queue.removeFirst(count)
        return batch
    }

    /// The connection, a new one when it broke; nil after failing every job of `batch` when none opens.
    private func usableConnection(failing batch: [any WriteJob]) -> (any SQLConnection)? {
        if let connection, connection.isUsable { return connection }
        connection?.close()
        connection = nil
        do {
            let opened = try open()
            connection = opened
            return opened
        } catch {
            logger.error("Cannot open a write connection", metadata: ["sb.error": "\(error)"])
            observer.databaseFailed(.write)
            for job in batch { job.finish(error) }
            return nil
        }
    }

    /// Fails every job of a batch whose transaction the database ended: nothing of it was written.
    private func abandon(_ batch: [any WriteJob], _ error: any Error, on connection: any SQLConnection) -> Bool {
        logger.error("Write transaction rolled back by the database", metadata: ["sb.error": "\(error)", "sb.jobs": "\(batch.count)"])
        try? connection.execute("ROLLBACK")
        connection.scratch.clear()
        for job in batch { job.finish(error) }
        return false
    }

    /// Runs a batch in one transaction; whether it committed.
    private func commit(_ batch: [any WriteJob], on connection: any SQLConnection) -> Bool {
        if let deferring = connection as? any DeferringSQLConnection, let committed = commitDeferring(batch, on: deferring) {
            return committed
        }
        return commitWithSavepoints(batch, on: connection)
    }

    /// Runs a batch in one transaction with its inserts deferred and no savepoints; whether it
    /// committed, or nil when it was rolled back to run again with a savepoint per job: a job that threw
    /// after sending a write, a statement that failed, or deferred rows that could not be written.
    private func commitDeferring(_ batch: [any WriteJob], on connection: any DeferringSQLConnection) -> Bool? {
        var outcomes: [(any WriteJob, (any Error)?)] = []
        outcomes.reserveCapacity(batch.count)
        connection.scratch.clear()
        connection.beginDeferring()
        defer { connection.endDeferring() }
        do {
            try connection.beginWrite()
        } catch {
            return failToBegin(batch, error, on: connection)
        }
        func runAgain(_ error: any Error) -> Bool? {
            // A lost connection fails the group with the database's own error (503 to clients).
            guard connection.isInTransaction else { return abandon(batch, (error as? DeferredWriteFailed)?.underlying ?? error, on: connection) }
            logger.debug("Group commit runs again with a savepoint per job", metadata: ["sb.error": "\(error)", "sb.jobs": "\(batch.count)"])
            connection.endDeferring()
            try? connection.execute("ROLLBACK")
            connection.scratch.clear()
            return nil
        }
        for job in batch {
            let appended = connection.appendedEvents.count
            let mark = connection.markJob()
            do {
                try job.perform(connection)
                outcomes.append((job, nil))
            } catch {
                guard !connection.hasSentWrite, !(error is DeferredWriteFailed) else { return runAgain(error) }
                // Nothing of the job reached the database: dropping its rows undoes it.
                connection.dropDeferred(since: mark)
                connection.scratch.dropAppendedEvents(after: appended)
                connection.scratch.conversations = [:]
                outcomes.append((job, error))
            }
            if connection.hasFailedStatement { return runAgain(SQLStore.unavailableError) }
        }
        do {
            try connection.flush()
        } catch {
            return runAgain(error)
        }
        return finish(batch, outcomes, on: connection)
    }

    /// Runs a batch in one transaction, each job in its own savepoint; whether it committed.
    private func commitWithSavepoints(_ batch: [any WriteJob], on connection: any SQLConnection) -> Bool {
        var outcomes: [(any WriteJob, (any Error)?)] = []
        outcomes.reserveCapacity(batch.count)
        connection.scratch.clear()
        do {
            try connection.beginWrite()
        } catch {
            return failToBegin(batch, error, on: connection)
        }
        for (index, job) in batch.enumerated() {
            let appended = connection.appendedEvents.count
            // A name per job: a failure of an earlier job's queued statement that surfaces in this one
            // cannot be rolled back to this job's savepoint (it was never taken in the failed
            // transaction), so the batch is abandoned instead of the earlier job being reported done.
            let savepoint = "job\(index)"
            do {
                try connection.queue("SAVEPOINT \(savepoint)")
                do {
                    try job.perform(connection)
                    try connection.queue("RELEASE \(savepoint)")
                    outcomes.append((job, nil))
                } catch {
                    // The database may have ended the whole transaction (SQLite on a full disk, PostgreSQL
                    // when the connection broke): then every job of the batch failed, and no later one may
                    // run outside a transaction.
                    guard connection.isInTransaction else { return abandon(batch, error, on: connection) }
                    connection.scratch.dropAppendedEvents(after: appended)
                    try connection.execute("ROLLBACK TO \(savepoint)")
                    try connection.execute("RELEASE \(savepoint)")
                    outcomes.append((job, error))
                }
            } catch {
                // A savepoint that cannot be taken, rolled back or released leaves the transaction in a
                // state nothing may be committed from (PostgreSQL would answer COMMIT with a silent
                // ROLLBACK): every job of the batch fails.
                return abandon(batch, error, on: connection)
            }
        }
        return finish(batch, outcomes, on: connection)
    }

    /// Fails every job of a batch whose transaction could not begin.
    private func failToBegin(_ batch: [any WriteJob], _ error: any Error, on connection: any SQLConnection) -> Bool {
        logger.error("Cannot begin a write transaction", metadata: ["sb.error": "\(error)"])
        try? connection.execute("ROLLBACK")
        for job in batch { job.finish(error) }
        return false
    }

    /// Commits the transaction of a batch whose jobs ran, then resumes each job's caller with its outcome.
    private func finish(_ batch: [any WriteJob], _ outcomes: [(any WriteJob, (any Error)?)], on connection: any SQLConnection) -> Bool {
        do {
            try connection.storeAppendedLastSeqs()
            try hooks.beforeCommit(connection)
            try connection.execute("COMMIT")
        } catch {
            logger.error("Group commit failed", metadata: ["sb.error": "\(error)", "sb.jobs": "\(batch.count)"])
            try? connection.execute("ROLLBACK")
            for job in batch { job.finish(error) }
            return false
        }
        let commits = hooks.afterCommit()
        // Cursors, deliveries and other bookkeeping neither wake the event log's readers nor touch caches.
        if !connection.appendedEvents.isEmpty || !connection.changedRecords.isEmpty {
            onCommitted(Commit(events: connection.appendedEvents, changedRecords: connection.changedRecords, commits: commits))
        }
        connection.scratch.clear()
        for (job, error) in outcomes { job.finish(error) }
        return true
    }
}

/// A queued write: performed inside the transaction, finished after it ends.
private protocol WriteJob: Sendable {
    /// Runs on the writer thread inside the job's savepoint.
    func perform(_ connection: any SQLConnection) throws
    /// Resumes the caller: with the result when `error` is nil, else with the error.
    func finish(_ error: (any Error)?)
}

/// A write job that hands a typed result back to an awaiting caller.
///
/// `@unchecked Sendable`: `result` is written on the writer thread in `perform` and read in `finish`
/// on the same thread, after which the job is dropped.
private final class TypedWriteJob<Result: Sendable>: WriteJob, @unchecked Sendable {
    private let body: @Sendable (any SQLConnection) throws -> Result
    private let continuation: CheckedContinuation<Result, any Error>
    private var result: Result?

    init(body: @escaping @Sendable (any SQLConnection) throws -> Result, continuation: CheckedContinuation<Result, any Error>) {
        self.body = body
        self.continuation = continuation
    }

    func perform(_ connection: any SQLConnection) throws {
        result = try body(connection)
    }

    func finish(_ error: (any Error)?) {
        if let error {
            continuation.resume(throwing: error)
        } else if let result {
            continuation.resume(returning: result)
        } else {
            continuation.resume(throwing: SQLStore.unavailableError)
        }
    }
}

/// A write nobody waits for: its failure is logged.
private struct BackgroundWriteJob: WriteJob {
    let body: @Sendable (any SQLConnection) throws -> Void
    let logger: Logger

    func perform(_ connection: any SQLConnection) throws { try body(connection) }

    func finish(_ error: (any Error)?) {
        if let error { logger.debug("Background write failed", metadata: ["sb.error": "\(error)"]) }
    }
}
