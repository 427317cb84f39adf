import Synchronization

/// Read-only connections, reused across threads: WAL lets them read while the writer commits.
///
/// - Important: Thread-safe. A connection is checked out for the length of one `read` call.
final class SQLiteReaderPool: Sendable {
    private let open: @Sendable () throws -> SQLiteConnection
    private let capacity: Int
    // Guards the idle connections and whether the pool was drained; a connection is either idle
    // here or in exactly one `read` call.
    private let state = Mutex(State())

    private struct State {
        var idle: [SQLiteConnection] = []
        var isDrained = false
    }

    /// Creates a pool that keeps at most `capacity` idle connections made by `open`.
    init(capacity: Int, open: @escaping @Sendable () throws -> SQLiteConnection) {
        self.capacity = capacity
        self.open = open
    }

    /// Runs `body` with a read connection.
    /// - Throws: `SQLiteStore.closedError` once the pool was drained, or what `body` throws.
    func read<Result>(_ body: (SQLiteConnection) throws -> Result) throws -> Result {
        let pooled = try state.withLock { state -> SQLiteConnection? in
            guard !state.isDrained else { throw SQLiteStore.closedError }
            return state.idle.popLast()
        }
        let connection = try pooled ?? open()
        defer {
            let kept = state.withLock { state in
                guard !state.isDrained, state.idle.count < capacity else { return false }
                state.idle.append(connection)
                return true
            }
            if !kept { connection.close() }
        }
        return try body(connection)
    }

    /// Closes every idle connection now and every busy one when its read ends; later reads fail.
    func drain() {
        let idle = state.withLock { state in
            state.isDrained = true
            defer { state.idle.removeAll() }
            return state.idle
        }
        for connection in idle { connection.close() }
    }
}
