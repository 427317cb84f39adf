import Logging
import NIOCore
import PostgresNIO
import SwitchboardCore
import Synchronization

/// Leases as PostgreSQL session advisory locks, all held on one connection per server.
///
/// A lock lives as long as the session that took it: when a server dies (kill -9, a lost machine),
/// PostgreSQL ends its session, as soon as the socket closes or, for a silent network, once its TCP
/// keepalives fail (about 11 s), and the locks are free for another server. The server checks the
/// session every 2 s (`SessionHealth`); one that does not answer within 4 s is closed and its leased
/// work cancelled, usually before another server can take it over (work still stopping then overlaps
/// with the new holder's for as long as it takes to stop).
///
/// - Important: Thread-safe: the connection lives behind a mutex.
final class AdvisoryLeases: Sendable {
    /// The first key of every lease's lock; the second is `hashtext` of the lease's name. The writers'
    /// lock is a single bigint key, a key space apart from this pair.
    private static let namespace: Int32 = 0x5357_4254  // "SWBT"

    private let target: PostgresTarget
    private let timeout: TimeAmount
    private let eventLoop: any EventLoop
    private let logger: Logger
    private let state = Mutex<(connection: PostgresConnection?, isClosed: Bool)>((nil, false))

    init(target: PostgresTarget, timeout: TimeAmount, eventLoop: any EventLoop, logger: Logger) {
        self.target = target
        self.timeout = timeout
        self.eventLoop = eventLoop
        self.logger = logger
    }

    /// Takes the lock of lease `name` if no session holds it.
    func take(_ name: String) async throws -> (any Lease)? {
        let connection = try await session()
        do {
            let rows = try await connection.query("SELECT pg_try_advisory_lock(\(Self.namespace), hashtext(\(name)))", logger: logger)
            for try await taken in rows.decode(Bool.self) where taken {
                let lease = AdvisoryLease(name: name, connection: connection, logger: logger)
                // Nobody would release a lock taken for a task that was cancelled meanwhile.
                guard !Task.isCancelled else {
                    await lease.release()
                    return nil
                }
                return lease
            }
            return nil
        } catch {
            throw PostgresFailure(error)
        }
    }

    /// Ends the session: every lease it holds is free.
    func close() {
        let connection = state.withLock { state in
            state.isClosed = true
            defer { state.connection = nil }
            return state.connection
        }
        connection.map(SessionHealth.close)
    }

    /// The open session, or a new one.
    private func session() async throws -> PostgresConnection {
        if let connection = state.withLock({ $0.connection }), !connection.isClosed { return connection }
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(on: eventLoop, configuration: target.configuration(connectTimeout: timeout), id: 2, logger: logger).get()
            // PostgreSQL ends the session of a server whose network went silent, freeing its leases.
            try await SessionHealth.prepare(connection, timeout: timeout, logger: logger).get()
        } catch {
            throw PostgresFailure(error)
        }
        let kept = state.withLock { state -> Bool in
            guard !state.isClosed else { return false }
            // Another task opened one meanwhile: use that one.
            if let current = state.connection, !current.isClosed { return false }
            state.connection = connection
            return true
        }
        guard kept else {
            SessionHealth.close(connection)
            if let current = state.withLock({ $0.connection }) { return current }
            throw PostgresFailure(sqlState: nil, message: "the store is closed")
        }
        SessionHealth.watch(connection, name: "leases", logger: logger)
        return connection
    }

    /// One lease: its lock on the session.
    private struct AdvisoryLease: Lease {
        let name: String
        let connection: PostgresConnection
        let logger: Logger

        func waitUntilLost() async {
            let waiter = Mutex<CheckedContinuation<Void, Never>?>(nil)
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    waiter.withLock { $0 = continuation }
                    connection.closeFuture.whenComplete { _ in waiter.withLock { $0.take() }?.resume() }
                    if Task.isCancelled { waiter.withLock { $0.take() }?.resume() }
                }
            } onCancel: {
                waiter.withLock { $0.take() }?.resume()
            }
        }

        func release() async {
            guard !connection.isClosed else { return }
            _ = try? await connection.query("SELECT pg_advisory_unlock(\(AdvisoryLeases.namespace), hashtext(\(name)))", logger: logger).get()
        }
    }
}

/// Keeps a long-lived session (the leases', the commit listener's) honest: TCP keepalives on
/// PostgreSQL's side, so that it ends the session of a server whose network went silent, and a check
/// every 2 s on ours, which closes a session that takes over 4 s to answer.
enum SessionHealth {
    static let checkInterval = TimeAmount.seconds(2)
    static let checkTimeout = TimeAmount.seconds(4)

    /// Sets the session's statement timeout and PostgreSQL's keepalives (about 11 s to notice silence).
    static func prepare(_ connection: PostgresConnection, timeout: TimeAmount, logger: Logger) -> EventLoopFuture<Void> {
        let settings = ["statement_timeout = \(timeout.nanoseconds / 1_000_000)", "tcp_keepalives_idle = 5", "tcp_keepalives_interval = 2", "tcp_keepalives_count = 3"]
        var done = connection.eventLoop.makeSucceededVoidFuture()
        for setting in settings {
            done = done.flatMap { connection.query(PostgresQuery(unsafeSQL: "SET \(setting)"), logger: logger).map { _ in } }
        }
        return done
    }

    /// Checks the session every `checkInterval` until it closes; closes it when an answer takes over
    /// `checkTimeout` or fails.
    static func watch(_ connection: PostgresConnection, name: String, logger: Logger) {
        let eventLoop = connection.eventLoop
        let task = eventLoop.scheduleRepeatedAsyncTask(initialDelay: checkInterval, delay: checkInterval) { _ in
            let deadline = eventLoop.scheduleTask(in: checkTimeout) {
                logger.warning("A database session does not answer; closing it", metadata: ["sb.session": "\(name)"])
                close(connection)
            }
            return connection.query("SELECT 1", logger: logger).map { _ in }.flatMapError { error in
                logger.warning("A database session failed; closing it", metadata: ["sb.session": "\(name)", "sb.error": "\(PostgresFailure(error))"])
                close(connection)
                return eventLoop.makeSucceededVoidFuture()
            }.always { _ in deadline.cancel() }
        }
        connection.closeFuture.whenComplete { _ in task.cancel() }
    }

    static func close(_ connection: PostgresConnection) {
        // postgres-nio requires a connection to outlive its close.
        connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
    }
}
