import Foundation
import Logging
import NIOCore
import PostgresNIO
import SwitchboardStore
import Synchronization

/// Hears of other servers' commits: every writer whose group commit appended events or saved agents or
/// conversations sends one notification for it (`notify`, inside its transaction, so it is delivered
/// only if the commit is), never one per message, and one connection per server `LISTEN`s for them.
/// The events' count wakes this server's log readers (realtime fan-out, consumers); the records drop
/// cached copies, and `.settings` among them the request path's caches (`settingsChanged`).
///
/// A connection that is lost, or that does not answer its checks (`SessionHealth`), is replaced a
/// second later; whenever listening (re)starts, the handler is told that notifications may have been
/// missed. Between a lost connection and the next, cached copies
/// are still bounded by `ReadSnapshot.lifetime`.
///
/// - Important: Thread-safe: its state lives behind a mutex; callbacks run on the connection's event loop.
final class CommitListener: Sendable {
    static let channel = "switchboard_records"
    /// The most events a notification may announce: more than any group commit appends (`max_batch`
    /// jobs of a few events each), small enough that no number of notifications wraps a `CommitSignal`.
    static let maxEvents = 1_000_000
    /// PostgreSQL's limit on a notification's payload is 8,000 bytes.
    private static let payloadLimit = 7_900

    private let target: PostgresTarget
    private let timeout: TimeAmount
    private let eventLoop: any EventLoop
    private let logger: Logger
    /// This server's id in the notifications it sends, so that it skips its own.
    private let node = UUID().uuidString
    private let state = Mutex<(connection: PostgresConnection?, handler: (@Sendable (OtherCommit) -> Void)?, isClosed: Bool)>((nil, nil, false))

    init(target: PostgresTarget, timeout: TimeAmount, eventLoop: any EventLoop, logger: Logger) {
        self.target = target
        self.timeout = timeout
        self.eventLoop = eventLoop
        self.logger = logger
    }

    /// Queues the notification of what the writer's current transaction did (`events` appended,
    /// `records` saved) on its connection: one per group commit, none when it did neither.
    func notify(events: Int, records: [ChangedRecord], on connection: any SQLConnection) throws {
        guard events > 0 || !records.isEmpty else { return }
        let encoded = ChangedRecord.encode(records)
        // Too many to name: the listeners drop every copy.
        let payload = "\(node) \(events) " + (encoded.utf8.count <= Self.payloadLimit ? encoded : "*")
        try connection.queue("SELECT pg_notify(?, ?)", [.text(Self.channel), .text(payload)])
    }

    /// Starts listening; `handler` gets each other server's commit, or `OtherCommit.missed` when some
    /// may have been missed.
    func start(_ handler: @escaping @Sendable (OtherCommit) -> Void) {
        state.withLock { $0.handler = handler }
        connect()
    }

    func close() {
        let connection = state.withLock { state in
            state.isClosed = true
            state.handler = nil
            defer { state.connection = nil }
            return state.connection
        }
        connection.map(SessionHealth.close)
    }

    private func connect() {
        PostgresConnection.connect(on: eventLoop, configuration: target.configuration(connectTimeout: timeout), id: 1, logger: logger).whenComplete { [self] result in
            switch result {
            case .success(let connection):
                guard state.withLock({ state in
                    guard !state.isClosed else { return false }
                    state.connection = connection
                    return true
                }) else {
                    SessionHealth.close(connection)
                    return
                }
                connection.addListener(channel: Self.channel) { [self] _, notification in received(notification.payload) }
                // A session that went silent is closed (and opened again): notifications never stop unnoticed.
                SessionHealth.watch(connection, name: "commit listener", logger: logger)
                // Once LISTEN is in effect, whatever was committed before may have been missed.
                SessionHealth.prepare(connection, timeout: timeout, logger: logger).flatMap { [self] in
                    connection.query(PostgresQuery(unsafeSQL: "LISTEN \(Self.channel)"), logger: logger).map { _ in }
                }.whenComplete { [self] result in
                    if case .failure(let error) = result {
                        // Closing it starts over a second later (closeFuture below).
                        logger.warning("Cannot listen for other servers' commits", metadata: ["sb.error": "\(PostgresFailure(error))"])
                        SessionHealth.close(connection)
                    }
                    handler()?(.missed)
                }
                connection.closeFuture.whenComplete { [self] _ in
                    handler()?(.missed)
                    retry()
                }
            case .failure(let error):
                logger.warning("Cannot connect to hear other servers' commits", metadata: ["sb.error": "\(PostgresFailure(error).message)"])
                retry()
            }
        }
    }

    private func handler() -> (@Sendable (OtherCommit) -> Void)? {
        state.withLock { $0.handler }
    }

    private func retry() {
        guard !state.withLock({ $0.isClosed }) else { return }
        eventLoop.scheduleTask(in: .seconds(1)) { [self] in connect() }
    }

    /// A notification: `<node> <events> <records>`, where events is how many the commit appended (at
    /// most `maxEvents`: no commit appends more) and records is `ChangedRecord.encode`'s text (empty for
    /// none) or `*` (drop every copy). Anything else (any role on the database may notify) is taken as a
    /// commit that may have changed anything: a forged notification costs a read of the log and of the
    /// cached records, and wakes the log's readers, who find nothing new.
    private func received(_ payload: String) {
        let parts = payload.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let events = Int(parts[1]), (0...Self.maxEvents).contains(events) else {
            handler()?(.missed)
            return
        }
        guard parts[0] != node else { return }
        if parts[2] == "*" {
            handler()?(OtherCommit(records: nil, events: events))
        } else if let records = ChangedRecord.decode(String(parts[2])) {
            handler()?(OtherCommit(records: records, events: events))
        } else {
            handler()?(.missed)
        }
    }
}
