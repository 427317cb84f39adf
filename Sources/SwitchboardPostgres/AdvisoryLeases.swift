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
/// session every 2 s; one that does not answer within 4 s is closed, so a server cut off from the
/// database stops its leased work before another can take it over.
///
/// - Important: Thread-safe: the connection lives behind a mutex.
final class AdvisoryLeases: Sendable {
    /// The first key of every lease's lock; the second is `hashtext` of the lease's name. The writers'
    /// lock is a single bigint key, a key space apart from this pair.
    private static let namespace: Int32 = 0x5357_4254  // "SWBT"
    private static let checkInterval = TimeAmount.seconds(2)
    private static let checkTimeout = TimeAmount.seconds(4)

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
                return AdvisoryLease(name: name, connection: connection, logger: logger)
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
        connection.map(Self.close)
    }

    /// The open session, or a new one.
    private func session() async throws -> PostgresConnection {
        if let connection = state.withLock({ $0.connection }), !connection.isClosed { return connection }
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(on: eventLoop, configuration: target.configuration(connectTimeout: timeout), id: 2, logger: logger).get()
            let milliseconds = timeout.nanoseconds / 1_000_000
            // PostgreSQL ends the session of a server whose network went silent, freeing its leases.
            for setting in ["statement_timeout = \(milliseconds)", "tcp_keepalives_idle = 5", "tcp_keepalives_interval = 2", "tcp_keepalives_count = 3"] {
                _ = try await connection.query(PostgresQuery(unsafeSQL: "SET \(setting)"), logger: logger).get()
            }
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
            Self.close(connection)
            if let current = state.withLock({ $0.connection }) { return current }
            throw PostgresFailure(sqlState: nil, message: "the store is closed")
        }
        check(connection)
        return connection
    }

    /// Checks the session every `checkInterval`; closes it when an answer takes over `checkTimeout`.
    private func check(_ connection: PostgresConnection) {
        let logger = logger
        let task = eventLoop.scheduleRepeatedAsyncTask(initialDelay: Self.checkInterval, delay: Self.checkInterval) { [eventLoop] _ in
            let deadline = eventLoop.scheduleTask(in: Self.checkTimeout) {
                logger.warning("The leases' database session does not answer; closing it")
                Self.close(connection)
            }
            return connection.query("SELECT 1", logger: logger).map { _ in }.flatMapError { error in
                logger.warning("The leases' database session failed; closing it", metadata: ["sb.error": "\(PostgresFailure(error))"])
                Self.close(connection)
                return eventLoop.makeSucceededVoidFuture()
            }.always { _ in deadline.cancel() }
        }
        connection.closeFuture.whenComplete { _ in task.cancel() }
    }

    private static func close(_ connection: PostgresConnection) {
        // postgres-nio requires a connection to outlive its close.
        connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
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
