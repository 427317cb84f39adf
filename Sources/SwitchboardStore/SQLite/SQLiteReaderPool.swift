import Synchronization

/// Read-only connections, reused across threads: WAL lets them read while the writer commits.
///
/// Each read runs inside one read transaction, which a connection keeps open for the reads after it
/// while nothing was committed since it began and for at most `snapshotLifetime`. Beginning and ending
/// a transaction takes SQLite's locks on the database and its shared memory (`fcntl` calls under a
/// mutex that concurrent readers contend for); under GET load that was a tenth of the request's CPU.
/// A read therefore sees every commit of this process that finished before it began (the writer calls
/// `committed()` before it resumes the writers' callers), and other processes' commits within
/// `snapshotLifetime`. An open transaction keeps the WAL from being checkpointed past it, so
/// `committed()` also ends the transactions that idle connections held longer than that.
///
/// - Important: Thread-safe. A connection is checked out for the length of one `read` call.
final class SQLiteReaderPool: Sendable {
    /// An idle connection and the read transaction it holds open, if any.
    private struct Idle {
        let connection: SQLiteConnection
        var snapshot: Snapshot?
    }

    /// An open read transaction: how many commits preceded it and when it began.
    private struct Snapshot {
        let commits: UInt64
        let began: ContinuousClock.Instant
    }

    private struct State {
        var idle: [Idle] = []
        var isDrained = false
        var nextSweep: ContinuousClock.Instant
    }

    private let open: @Sendable () throws -> SQLiteConnection
    private let capacity: Int
    private let snapshotLifetime: Duration
    private let commits = Atomic<UInt64>(0)
    // Guards the idle connections and whether the pool was drained; a connection is either idle
    // here, in exactly one `read` call, or being swept by `committed()`.
    private let state: Mutex<State>

    /// Creates a pool that keeps at most `capacity` idle connections made by `open`.
    init(capacity: Int, snapshotLifetime: Duration = .milliseconds(100), open: @escaping @Sendable () throws -> SQLiteConnection) {
        self.capacity = capacity
        self.snapshotLifetime = snapshotLifetime
        self.open = open
        self.state = Mutex(State(nextSweep: .now + snapshotLifetime))
    }

    /// Runs `body` with a read connection, inside one read transaction.
    /// - Throws: `SQLiteStore.closedError` once the pool was drained, or what `body` throws.
    func read<Result>(_ body: (SQLiteConnection) throws -> Result) throws -> Result {
        let pooled = try state.withLock { state -> Idle? in
            guard !state.isDrained else { throw SQLiteStore.closedError }
            return state.idle.popLast()
        }
        var entry = try pooled ?? Idle(connection: open(), snapshot: nil)
        let commits = commits.load(ordering: .acquiring)
        let now = ContinuousClock.now
        do {
            if let snapshot = entry.snapshot, snapshot.commits != commits || now - snapshot.began >= snapshotLifetime {
                entry.snapshot = nil
                try entry.connection.run("COMMIT")
            }
            if entry.snapshot == nil {
                try entry.connection.run("BEGIN")
                entry.snapshot = Snapshot(commits: commits, began: now)
            }
            let result = try body(entry.connection)
            release(entry)
            return result
        } catch {
            if entry.connection.isInTransaction { _ = try? entry.connection.run("ROLLBACK") }
            entry.snapshot = nil
            release(entry)
            throw error
        }
    }

    /// Records a commit, so that reads beginning from now on see it. At most once per
    /// `snapshotLifetime`, ends the transactions idle connections held longer than that.
    func committed() {
        commits.add(1, ordering: .releasing)
        let now = ContinuousClock.now
        let expired = state.withLock { state -> [Idle] in
            guard now >= state.nextSweep else { return [] }
            state.nextSweep = now + snapshotLifetime
            let deadline = now - snapshotLifetime
            var expired: [Idle] = []
            state.idle.removeAll { entry in
                guard let snapshot = entry.snapshot, snapshot.began <= deadline else { return false }
                expired.append(entry)
                return true
            }
            return expired
        }
        for var entry in expired {
            _ = try? entry.connection.run("COMMIT")
            entry.snapshot = nil
            release(entry)
        }
    }

    /// Returns a connection to the idle ones, or closes it when the pool is full or drained.
    private func release(_ entry: Idle) {
        let kept = state.withLock { state in
            guard !state.isDrained, state.idle.count < capacity else { return false }
            state.idle.append(entry)
            return true
        }
        if !kept { entry.connection.close() }
    }

    /// Closes every idle connection now and every busy one when its read ends; later reads fail.
    func drain() {
        let idle = state.withLock { state in
            state.isDrained = true
            defer { state.idle.removeAll() }
            return state.idle
        }
        for entry in idle { entry.connection.close() }
    }
}
