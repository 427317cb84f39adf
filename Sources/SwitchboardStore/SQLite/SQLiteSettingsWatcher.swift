import Foundation
import Logging

/// Hears settings changes another process made to the database file (`switchboard keys create` while
/// the server runs): every settings write bumps `settings_generation` (`SQLiteEngine.markSettingsWrite`),
/// and this thread reads it every `interval` on a connection of its own and reports each change as the
/// generation it had seen and the one it reads now; the engine tells its own writes apart.
///
/// - Important: Thread-safe. The connection is only touched on the watcher's thread; the flags are
///   behind `condition`. `@unchecked Sendable`: for those reasons.
final class SQLiteSettingsWatcher: @unchecked Sendable {
    /// How often the generation is read: the bound on how long another process's change stays unseen.
    static let interval: TimeInterval = 0.25
    static let threadName = "sqlite-settings"
    private let connection: SQLiteConnection
    private let logger: Logger
    // Guards `isStopping` and `hasStopped`; the thread sleeps on it between reads.
    private let condition = NSCondition()
    private var isStopping = false
    private var hasStopped = false

    /// Starts the thread over `connection` (read-only), which it then owns; `onChange(seen, current)`
    /// runs on it.
    init(connection: SQLiteConnection, logger: Logger, onChange: @escaping @Sendable (Int64, Int64) -> Void) {
        self.connection = connection
        self.logger = logger
        Thread.start(named: Self.threadName) { [self] in run(onChange) }
    }

    /// Stops the thread and closes the connection.
    func stop() {
        condition.lock()
        isStopping = true
        condition.broadcast()
        while !hasStopped { condition.wait() }
        condition.unlock()
    }

    private func run(_ onChange: @Sendable (Int64, Int64) -> Void) {
        var seen = generation()
        while waitForNextRead() {
            guard let current = generation() else { continue }
            if let seen, current != seen { onChange(seen, current) }
            seen = current
        }
        connection.close()
        condition.lock()
        hasStopped = true
        condition.broadcast()
        condition.unlock()
    }

    /// The generation, or nil when it could not be read (a read that fails is tried again next time).
    private func generation() -> Int64? {
        do {
            return try connection.queryFirst("SELECT generation FROM settings_generation WHERE id = 1") { $0.int64(0) } ?? 0
        } catch {
            logger.debug("Settings generation unreadable", metadata: ["sb.error": "\(error)"])
            return nil
        }
    }

    /// Waits `interval`; false once stopping.
    private func waitForNextRead() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: Self.interval)
        while !isStopping, condition.wait(until: deadline) {}
        return !isStopping
    }
}
