import CSQLite
import Foundation
import Logging

/// Copies the WAL into the database file on a thread of its own, so that no commit waits for it.
///
/// SQLite checkpoints inside the `COMMIT` that takes the WAL past 1,000 pages: that commit, and every
/// caller and event waiting for it, waits for the copy and its `fsync`s too (5–8 ms here, once in
/// about sixty messages). The writer's connection instead reports the WAL's size after each commit
/// (`SQLiteConnection.reportWALSize`); past `pages` the checkpointer runs a passive checkpoint on its own
/// connection, which neither waits for nor blocks the writer and readers. Under a steady load such a
/// checkpoint rarely finishes while no reader holds an older snapshot, and only a finished one lets the
/// WAL start over; so past `limit` pages the writer checkpoints after its commit as SQLite would have,
/// right after it ended the idle readers' snapshots, and copies only what the checkpointer left.
///
/// - Important: Thread-safe. `walReached(pages:)` runs on the writer thread; the connection is only
///   touched on the checkpointer's thread; the flags are behind `condition`.
///   `@unchecked Sendable`: for those reasons.
final class SQLiteCheckpointer: @unchecked Sendable {
    /// The WAL size in pages past which the checkpointer copies it (SQLite's own default).
    let pages: Int
    /// The WAL size in pages past which the writer checkpoints itself after a commit.
    let limit: Int
    private let connection: SQLiteConnection
    private let logger: Logger
    // Guards `isRequested`, `isStopping` and `hasStopped`; the thread waits on it when there is no work.
    private let condition = NSCondition()
    private var isRequested = false
    private var isStopping = false
    private var hasStopped = false
    /// The checkpointer thread's name as the kernel shows it (at most 15 bytes).
    static let threadName = "sqlite-ckpt"

    /// Starts the checkpointer thread over `connection` (read-write), which it then owns.
    init(connection: SQLiteConnection, pages: Int = 1000, limit: Int = 2000, logger: Logger) {
        precondition(pages > 0 && limit >= pages, "the writer's limit cannot come before the checkpointer's size")
        self.connection = connection
        self.pages = pages
        self.limit = limit
        self.logger = logger
        Thread.start(named: Self.threadName) { [self] in run() }
    }

    /// Tells the checkpointer the WAL's size after a commit; returns whether the writer has to
    /// checkpoint itself. Runs on the writer thread.
    func walReached(pages count: Int) -> Bool {
        guard count >= pages else { return false }
        // Past the limit the writer checkpoints; another request now would make its attempt busy.
        guard count < limit else { return true }
        condition.lock()
        if !isRequested, !isStopping {
            isRequested = true
            condition.signal()
        }
        condition.unlock()
        return false
    }

    /// Lets a running checkpoint finish, closes the connection and stops the thread.
    func stop() {
        condition.lock()
        isStopping = true
        condition.broadcast()
        while !hasStopped { condition.wait() }
        condition.unlock()
    }

    private func run() {
        while waitForRequest() {
            do {
                try connection.checkpoint()
            } catch {
                logger.debug("WAL checkpoint failed", metadata: ["sb.error": "\(error)"])
            }
        }
        connection.close()
        condition.lock()
        hasStopped = true
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for a request; false once stopping.
    private func waitForRequest() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !isRequested && !isStopping { condition.wait() }
        isRequested = false
        return !isStopping
    }
}
