import Synchronization

/// Read-only connections, reused across threads: WAL lets them read while the writer commits.
///
/// - Important: Thread-safe. A connection is checked out for the length of one `read` call.
final class SQLiteReaderPool: Sendable {
    private let open: @Sendable () throws -> SQLiteConnection
    private let capacity: Int
    // Guards the idle connections; a connection is either idle here or in exactly one `read` call.
    private let idle = Mutex<[SQLiteConnection]>([])

    /// Creates a pool that keeps at most `capacity` idle connections made by `open`.
    init(capacity: Int, open: @escaping @Sendable () throws -> SQLiteConnection) {
        self.capacity = capacity
        self.open = open
    }

    /// Runs `body` with a read connection.
    func read<Result>(_ body: (SQLiteConnection) throws -> Result) throws -> Result {
        let connection = try idle.withLock { $0.popLast() } ?? open()
        defer {
            idle.withLock { pool in
                if pool.count < capacity { pool.append(connection) }
            }
        }
        return try body(connection)
    }

    /// Closes every idle connection.
    func drain() {
        idle.withLock { $0.removeAll() }
    }
}
