import Foundation
import Logging
import SwitchboardCore

/// The single writer of a database: runs write jobs on its own thread and commits them in groups.
///
/// Every job that is waiting when the writer wakes joins one transaction (up to `maxBatch`), each
/// inside its own savepoint, so a job that throws rolls back alone while the others commit. Callers
/// resume only after the group's `COMMIT` returned: a result a caller sees is durable.
///
/// - Important: Thread-safe. Jobs run serially on the writer thread, never on a caller's thread.
///   `@unchecked Sendable`: the queue and flags are only touched while holding `condition` (or
///   `stopped` for `hasStopped`), and the connection only on the writer thread.
final class SQLiteWriter: @unchecked Sendable {
    private let connection: SQLiteConnection
    private let maxBatch: Int
    /// The read connections, told of every commit so that none reads an older snapshot after it.
    private let readers: SQLiteReaderPool
    private let onCommitted: @Sendable (Commit) -> Void
    private let observer: any StoreObserver
    private let logger: Logger
    // Guards `queue` and `isStopping`; the writer thread waits on it when there is no work.
    private let condition = NSCondition()
    private var queue: [any SQLiteWriteJob] = []
    private var isStopping = false
    private let stopped = NSCondition()
    private var hasStopped = false
    /// The writer thread's name as the kernel shows it (at most 15 bytes).
    static let threadName = "sqlite-writer"

    /// What a group commit changed, handed on before any of its callers resumes.
    struct Commit {
        /// The events it inserted, in position order.
        let events: [RecentEvents.Entry]
        /// The cached records it saved.
        let changedRecords: [ChangedRecord]
        /// How many commits the writer made, this one included.
        let commits: UInt64
    }

    /// Starts the writer thread over `connection`, which it then owns; `onCommitted` runs on it after
    /// each commit that inserted events or saved cached records.
    init(
        connection: SQLiteConnection,
        maxBatch: Int,
        readers: SQLiteReaderPool,
        observer: any StoreObserver,
        logger: Logger,
        onCommitted: @escaping @Sendable (Commit) -> Void
    ) {
        self.observer = observer
        self.connection = connection
        self.maxBatch = maxBatch
        self.readers = readers
        self.logger = logger
        self.onCommitted = onCommitted
        Thread.start(named: Self.threadName) { [self] in run() }
    }

    /// Runs `body` in the next group commit and returns its result once the group is durable.
    /// - Throws: what `body` throws (its savepoint is rolled back), or the commit's error.
    @discardableResult
    func write<Result: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> Result) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            enqueue(TypedWriteJob(body: body, continuation: continuation))
        }
    }

    /// Runs `body` in a later group commit without waiting for it; failures are logged. Queued like
    /// every write, it is done before `stop()` returns.
    func submit(_ body: @escaping @Sendable (SQLiteConnection) throws -> Void) {
        enqueue(BackgroundWriteJob(body: body, logger: logger))
    }

    /// Finishes every queued job, closes the connection, then stops the thread. Later writes fail
    /// with `unavailable`.
    func stop() {
        condition.lock()
        isStopping = true
        condition.signal()
        condition.unlock()
        stopped.lock()
        while !hasStopped { stopped.wait() }
        stopped.unlock()
    }

    private func enqueue(_ job: any SQLiteWriteJob) {
        condition.lock()
        if isStopping {
            condition.unlock()
            job.finish(SQLiteStore.closedError)
            return
        }
        queue.append(job)
        condition.signal()
        condition.unlock()
    }

    private func run() {
        while let batch = nextBatch() {
            let start = ContinuousClock.now
            let committed = commit(batch)
            observer.transactionEnded(after: ContinuousClock.now - start, committed: committed)
        }
        connection.close()
        stopped.lock()
        hasStopped = true
        stopped.broadcast()
        stopped.unlock()
    }

    /// Waits for work; nil once stopping and the queue is empty.
    private func nextBatch() -> [any SQLiteWriteJob]? {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty && !isStopping { condition.wait() }
        if queue.isEmpty { return nil }
        let count = min(queue.count, maxBatch)
        let batch = Array(queue.prefix(count))
        queue.removeFirst(count)
        return batch
    }

    /// Fails every job of a batch whose transaction SQLite ended: nothing of it was written.
    private func abandon(_ batch: [any SQLiteWriteJob], _ error: any Error) -> Bool {
        logger.error("Write transaction rolled back by SQLite", metadata: ["sb.error": "\(error)", "sb.jobs": "\(batch.count)"])
        try? connection.execute("ROLLBACK")
        connection.clearAppended()
        for job in batch { job.finish(error) }
        return false
    }

    /// Runs a batch in one transaction; whether it committed.
    private func commit(_ batch: [any SQLiteWriteJob]) -> Bool {
        var outcomes: [(any SQLiteWriteJob, (any Error)?)] = []
        outcomes.reserveCapacity(batch.count)
        connection.clearAppended()
        do {
            try connection.run("BEGIN IMMEDIATE")
        } catch {
            logger.error("Cannot begin a write transaction", metadata: ["sb.error": "\(error)"])
            for job in batch { job.finish(error) }
            return false
        }
        for job in batch {
            let appended = connection.appendedEvents.count
            do {
                try connection.run("SAVEPOINT job")
                do {
                    try job.perform(connection)
                    try connection.run("RELEASE job")
                    outcomes.append((job, nil))
                } catch {
                    // SQLite may have rolled back the whole transaction (a full disk does): then every
                    // job of the batch failed, and no later one may run outside a transaction.
                    guard connection.isInTransaction else { return abandon(batch, error) }
                    connection.dropAppendedEvents(after: appended)
                    try connection.run("ROLLBACK TO job")
                    try connection.run("RELEASE job")
                    outcomes.append((job, error))
                }
            } catch {
                guard connection.isInTransaction else { return abandon(batch, error) }
                outcomes.append((job, error))
            }
        }
        do {
            try connection.storeAppendedLastSeqs()
            readers.endIdleSnapshots()
            try connection.run("COMMIT")
        } catch {
            logger.error("Group commit failed", metadata: ["sb.error": "\(error)", "sb.jobs": "\(batch.count)"])
            try? connection.execute("ROLLBACK")
            for job in batch { job.finish(error) }
            return false
        }
        let commits = readers.committed()
        // Cursors, deliveries and other bookkeeping neither wake the event log's readers nor touch caches.
        if !connection.appendedEvents.isEmpty || !connection.changedRecords.isEmpty {
            onCommitted(Commit(events: connection.appendedEvents, changedRecords: connection.changedRecords, commits: commits))
        }
        connection.clearAppended()
        for (job, error) in outcomes { job.finish(error) }
        return true
    }
}

/// A queued write: performed inside the transaction, finished after it ends.
private protocol SQLiteWriteJob: Sendable {
    /// Runs on the writer thread inside the job's savepoint.
    func perform(_ connection: SQLiteConnection) throws
    /// Resumes the caller: with the result when `error` is nil, else with the error.
    func finish(_ error: (any Error)?)
}

/// A write job that hands a typed result back to an awaiting caller.
///
/// `@unchecked Sendable`: `result` is written on the writer thread in `perform` and read in `finish`
/// on the same thread, after which the job is dropped.
private final class TypedWriteJob<Result: Sendable>: SQLiteWriteJob, @unchecked Sendable {
    private let body: @Sendable (SQLiteConnection) throws -> Result
    private let continuation: CheckedContinuation<Result, any Error>
    private var result: Result?

    init(body: @escaping @Sendable (SQLiteConnection) throws -> Result, continuation: CheckedContinuation<Result, any Error>) {
        self.body = body
        self.continuation = continuation
    }

    func perform(_ connection: SQLiteConnection) throws {
        result = try body(connection)
    }

    func finish(_ error: (any Error)?) {
        if let error {
            continuation.resume(throwing: error)
        } else if let result {
            continuation.resume(returning: result)
        } else {
            continuation.resume(throwing: SQLiteStore.unavailableError)
        }
    }
}

/// A write nobody waits for: its failure is logged.
private struct BackgroundWriteJob: SQLiteWriteJob {
    let body: @Sendable (SQLiteConnection) throws -> Void
    let logger: Logger

    func perform(_ connection: SQLiteConnection) throws { try body(connection) }

    func finish(_ error: (any Error)?) {
        if let error { logger.debug("Background write failed", metadata: ["sb.error": "\(error)"]) }
    }
}
