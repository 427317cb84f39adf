import Synchronization

/// Read-only connections, reused across threads: WAL lets them read while the writer commits.
///
/// A connection keeps its read transaction between reads while nothing was committed, so that a run
/// of reads does not take and release SQLite's WAL locks (`fcntl` calls) for each one: 2.4 µs of a
/// GET's 33 (docs/benchmarks.md). A read never sees less than the last commit that finished
/// before it began:
/// - the writer calls `committed()` after every `COMMIT` and before any caller resumes, and a
///   connection whose transaction began before that starts a new one;
/// - the writer calls `endIdleSnapshots()` just before every `COMMIT`, so that snapshots nobody is
///   reading do not hold back the checkpoint in it (the WAL can only restart once a checkpoint
///   copied every frame back);
/// - a transaction is at most `ReadSnapshot.lifetime` old, the bound on how long a commit from another
///   process (`switchboard keys revoke`) stays unseen.
///
/// - Important: Thread-safe. A connection is checked out for the length of one `read` call; idle
///   connections are only touched under the lock.
final class SQLiteReaderPool: Sendable {
    private let open: @Sendable () throws -> SQLiteConnection
    private let capacity: Int
    // Guards the idle connections and whether the pool was drained; a connection is either idle
    // here or in exactly one `read` call.
    private let state = Mutex(State())
    /// How many commits the writer reported.
    private let commits = Atomic<UInt64>(0)

    private struct State {
        var idle: [Pooled] = []
        var isDrained = false
    }

    /// A connection and its open read transaction, if any.
    private struct Pooled {
        let connection: SQLiteConnection
        var snapshot: ReadSnapshot?

        /// Ends the read transaction, if one is open.
        mutating func endSnapshot() throws {
            guard snapshot != nil else { return }
            snapshot = nil
            try connection.run("COMMIT")
        }
    }

    /// Creates a pool that keeps at most `capacity` idle connections made by `open`.
    init(capacity: Int, open: @escaping @Sendable () throws -> SQLiteConnection) {
        self.capacity = capacity
        self.open = open
    }

    /// Runs `body` with a read connection, inside a read transaction that began after the last commit.
    /// - Throws: `SQLStore.closedError` once the pool was drained, or what `body` throws.
    func read<Result>(_ body: (any SQLConnection) throws -> Result) throws -> Result {
        try read { connection, _ in try body(connection) }
    }

    /// Runs `body` like `read(_:)`, also handing it the transaction's snapshot (for `RecordCache`).
    func read<Result>(_ body: (any SQLConnection, ReadSnapshot) throws -> Result) throws -> Result {
        let pooled = try state.withLock { state -> Pooled? in
            guard !state.isDrained else { throw SQLStore.closedError }
            return state.idle.popLast()
        }
        var entry = try pooled ?? Pooled(connection: open(), snapshot: nil)
        var isUsable = true
        defer {
            if !(isUsable && giveBack(entry)) { entry.connection.close() }
        }
        let snapshot: ReadSnapshot
        do {
            snapshot = try renewSnapshot(of: &entry)
        } catch {
            isUsable = false
            throw error
        }
        return try body(entry.connection, snapshot)
    }

    /// Returns a connection to the idle ones; false when the pool is drained or full.
    private func giveBack(_ entry: Pooled) -> Bool {
        state.withLock { state in
            guard !state.isDrained, state.idle.count < capacity else { return false }
            state.idle.append(entry)
            return true
        }
    }

    /// Keeps the entry's read transaction if no commit came after it began and it is young enough;
    /// else ends it and begins another (SQLite takes the snapshot at the first read in it).
    private func renewSnapshot(of entry: inout Pooled) throws -> ReadSnapshot {
        // Read before the transaction begins: a commit in between makes the label older than the
        // snapshot, which only renews it once more than needed.
        let commits = commits.load(ordering: .acquiring)
        let now = ContinuousClock.now
        if let snapshot = entry.snapshot, snapshot.commits == commits, now - snapshot.started < ReadSnapshot.lifetime { return snapshot }
        try entry.endSnapshot()
        try entry.connection.run("BEGIN")
        let snapshot = ReadSnapshot(commits: commits, started: now)
        entry.snapshot = snapshot
        return snapshot
    }

    /// Ends the read transaction of every idle connection; the writer calls it before each `COMMIT`.
    /// A connection whose transaction cannot end is closed.
    func endIdleSnapshots() {
        let failed = state.withLock { state -> [SQLiteConnection] in
            var kept: [Pooled] = []
            var failed: [SQLiteConnection] = []
            for var entry in state.idle {
                do {
                    try entry.endSnapshot()
                    kept.append(entry)
                } catch {
                    failed.append(entry.connection)
                }
            }
            state.idle = kept
            return failed
        }
        for connection in failed { connection.close() }
    }

    /// Records that the writer committed: every read transaction that began before is renewed at its
    /// next read. Returns how many commits the writer reported, this one included.
    @discardableResult
    func committed() -> UInt64 {
        commits.add(1, ordering: .releasing).newValue
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
