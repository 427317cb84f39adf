import Foundation
import Logging
import NIOCore
import PostgresNIO
import SwitchboardStore
import Synchronization

/// A failure reported by PostgreSQL or by the connection to it. Its text is for logs only, never for
/// clients, and never holds a statement's values.
struct PostgresFailure: DatabaseFailure {
    /// The SQLSTATE the server gave, or nil for a failure of the connection itself.
    let sqlState: String?
    /// What went wrong, without the statement's values.
    let message: String

    var description: String { sqlState.map { "PostgreSQL error \($0): \(message)" } ?? "PostgreSQL connection failed: \(message)" }

    /// Class 23, integrity constraint violation: unique, primary key, foreign key, not null, check.
    var isConstraintViolation: Bool { sqlState?.hasPrefix("23") == true }

    /// 53100, disk_full.
    var isStorageFull: Bool { sqlState == "53100" }

    /// Class 22, data exception: a value PostgreSQL cannot hold (a NUL character in text, say).
    var isInvalidValue: Bool { sqlState?.hasPrefix("22") == true }

    /// Whether the connection can be used after this failure: a statement the server refused leaves it
    /// usable, a lost connection, a timeout or a server shutting down (class 57, 08) does not.
    var breaksConnection: Bool {
        guard let sqlState else { return true }
        return sqlState.hasPrefix("08") || sqlState.hasPrefix("57")
    }

    init(_ error: any Error) {
        if let error = error as? PSQLError {
            sqlState = error.serverInfo?[.sqlState]
            message = error.serverInfo?[.message] ?? "\(error.code)"
        } else if let error = error as? PostgresFailure {
            self = error
        } else {
            sqlState = nil
            message = "\(error)"
        }
    }

    init(sqlState: String?, message: String) {
        self.sqlState = sqlState
        self.message = message
    }
}

/// One PostgreSQL connection used synchronously, by one thread at a time, so that the store's SQL
/// (written once for SQLite and PostgreSQL) runs on it unchanged: `?` placeholders are numbered,
/// rows are decoded into `SQLValue`s.
///
/// Every call blocks the calling thread until PostgreSQL answered or `timeout` passed (then the
/// connection is closed: a statement still running cannot be trusted to end). The calling thread is
/// never one of the event loop's: the writer's own thread or one of the engine's read threads.
///
/// - Important: Not thread-safe; `@unchecked Sendable` because it moves between threads but is never
///   shared, like `SQLiteConnection`.
final class PostgresSQLConnection: SQLConnection, @unchecked Sendable {
    private let connection: PostgresConnection
    private let timeout: TimeAmount
    private let logger: Logger
    private var numbered: [String: String] = [:]
    private var isBroken = false
    /// Statements sent by `queue` whose answers nobody waited for yet, in the order they were sent.
    private var queued: [EventLoopFuture<PostgresQueryResult>] = []
    let scratch = WriteScratch()

    var dialect: SQLDialect { .postgres }

    /// The key of the advisory lock every writer transaction holds until it ends: commits happen one at
    /// a time across every server on the database, so the global `position` (an identity taken under
    /// the lock) and each tenant's `seq` (read from `tenants.last_seq` under it) grow in commit order.
    static let writeLockKey: Int64 = 0x5357_4254_4f41_5244  // "SWBTOARD"

    /// Connects; blocks until PostgreSQL accepted the connection or `timeout` passed.
    /// - Throws: `PostgresFailure` naming the host and port when it cannot connect.
    init(target: PostgresTarget, timeout: Duration, eventLoop: any EventLoop, logger: Logger) throws {
        self.timeout = TimeAmount(timeout)
        self.logger = logger
        let connecting = PostgresConnection.connect(on: eventLoop, configuration: target.configuration(connectTimeout: self.timeout), id: 0, logger: logger)
        do {
            connection = try Self.wait(for: connecting, timeout: self.timeout, on: eventLoop)
        } catch {
            // A connection that completes after the deadline is nobody's: close it then.
            connecting.whenSuccess { late in late.close().whenComplete { _ in withExtendedLifetime(late) {} } }
            throw PostgresFailure(sqlState: nil, message: "cannot connect to PostgreSQL at \(target.host):\(target.port): \(PostgresFailure(error).message)")
        }
        let milliseconds = self.timeout.nanoseconds / 1_000_000
        do {
            try execute("SET statement_timeout = \(milliseconds)")
            try execute("SET lock_timeout = \(milliseconds)")
            // A server that stalls or loses its network inside a transaction must not hold the write lock
            // (and so every other server's writes) for longer than that: PostgreSQL ends such a session.
            try execute("SET idle_in_transaction_session_timeout = \(2 * milliseconds)")
            try execute("SET tcp_keepalives_idle = 10")
            try execute("SET tcp_keepalives_interval = 5")
            try execute("SET tcp_keepalives_count = 3")
            try execute("SET synchronous_commit = on")
        } catch {
            close()
            throw error
        }
    }

    var isInTransaction: Bool { !isBroken && !connection.isClosed }

    var isUsable: Bool { !isBroken && !connection.isClosed }

    func beginWrite() throws {
        // Read committed whatever the database's default: reads after the lock see every commit before it.
        try queue("BEGIN ISOLATION LEVEL READ COMMITTED")
        try queue("SELECT pg_advisory_xact_lock(\(Self.writeLockKey))")
    }

    /// Runs `sql` and waits for its answer; a `COMMIT` that PostgreSQL answered with `ROLLBACK` (the
    /// transaction had failed) throws.
    func execute(_ sql: String) throws {
        let result = try perform(sql, [])
        if sql == "COMMIT", result.metadata.command != "COMMIT" {
            throw PostgresFailure(sqlState: nil, message: "the transaction was rolled back instead of committed (\(result.metadata.command))")
        }
    }

    func queue(_ sql: String, _ bindings: [SQLValue]) throws {
        guard isUsable else { throw PostgresFailure(sqlState: nil, message: "the connection was lost") }
        queued.append(send(sql, bindings))
    }

    /// Waits for the answers to queued statements that nobody waited for (a read's `COMMIT`), without
    /// reporting their failures to whoever uses the connection next; returns whether it is still usable.
    func settleQueued() -> Bool {
        guard !queued.isEmpty else { return isUsable }
        let earlier = queued
        queued = []
        do {
            for result in try Self.wait(for: EventLoopFuture.whenAllComplete(earlier, on: connection.eventLoop), timeout: timeout, on: connection.eventLoop) {
                _ = try result.get()
            }
        } catch {
            isBroken = true
            close()
        }
        return isUsable
    }

    @discardableResult
    func run(_ sql: String, _ bindings: [SQLValue]) throws -> Int {
        try perform(sql, bindings).metadata.rows ?? 0
    }

    func query<Row>(_ sql: String, _ bindings: [SQLValue], _ map: (SQLRow) throws -> Row) throws -> [Row] {
        try perform(sql, bindings).rows.map { try map(SQLRow(values: try Self.values(of: $0))) }
    }

    func queryFirst<Row>(_ sql: String, _ bindings: [SQLValue], _ map: (SQLRow) throws -> Row) throws -> Row? {
        try perform(sql, bindings).rows.first.map { try map(SQLRow(values: try Self.values(of: $0))) }
    }

    func close() {
        guard !connection.isClosed else { return }
        _ = try? Self.wait(for: connection.close(), timeout: timeout, on: connection.eventLoop)
    }

    /// Runs one statement and collects its rows, after the answers to the statements queued before it:
    /// the first of them that failed is what throws.
    private func perform(_ sql: String, _ bindings: [SQLValue]) throws -> PostgresQueryResult {
        guard isUsable else { throw PostgresFailure(sqlState: nil, message: "the connection was lost") }
        let earlier = queued
        queued = []
        let current = send(sql, bindings)
        do {
            if earlier.isEmpty { return try Self.wait(for: current, timeout: timeout, on: connection.eventLoop) }
            // PostgreSQL answers in order: one deadline covers them all.
            let results = try Self.wait(for: EventLoopFuture.whenAllComplete(earlier + [current], on: connection.eventLoop), timeout: timeout, on: connection.eventLoop)
            for result in results.dropLast() { _ = try result.get() }
            guard let last = results.last else { throw PostgresFailure(sqlState: nil, message: "no answer") }
            return try last.get()
        } catch {
            let failure = PostgresFailure(error)
            if failure.breaksConnection {
                isBroken = true
                close()
            }
            throw failure
        }
    }

    /// Sends one statement; its answer completes the future.
    private func send(_ sql: String, _ bindings: [SQLValue]) -> EventLoopFuture<PostgresQueryResult> {
        var binds = PostgresBindings(capacity: bindings.count)
        for value in bindings {
            switch value {
            case .null: binds.appendNull()
            case .integer(let integer): binds.append(integer)
            case .real(let real): binds.append(real)
            case .text(let text): binds.append(text)
            case .blob(let bytes): binds.append(ByteBuffer(bytes: bytes))
            }
        }
        return connection.query(PostgresQuery(unsafeSQL: numberedPlaceholders(sql), binds: binds), logger: logger)
    }

    /// `sql` with each `?` outside quotes numbered `$1`, `$2`, … (`?N` becomes `$N`), cached per text.
    private func numberedPlaceholders(_ sql: String) -> String {
        if let cached = numbered[sql] { return cached }
        var result = ""
        var next = 1
        var isQuoted = false
        var characters = sql.makeIterator()
        var pending: Character? = characters.next()
        while let character = pending {
            pending = characters.next()
            if character == "'" { isQuoted.toggle() }
            guard character == "?", !isQuoted else {
                result.append(character)
                continue
            }
            var digits = ""
            while let digit = pending, digit.isASCII, digit.isNumber {
                digits.append(digit)
                pending = characters.next()
            }
            if digits.isEmpty {
                result += "$\(next)"
                next += 1
            } else {
                result += "$\(digits)"
            }
        }
        numbered[sql] = result
        return result
    }

    /// The values of a row, decoded by their PostgreSQL type into what SQLite would have returned.
    private static func values(of row: PostgresRow) throws -> [SQLValue] {
        var values: [SQLValue] = []
        for cell in row {
            guard cell.bytes != nil else {
                values.append(.null)
                continue
            }
            switch cell.dataType {
            case .int2, .int4, .int8, .oid: values.append(.integer(try cell.decode(Int64.self)))
            case .bool: values.append(.integer(try cell.decode(Bool.self) ? 1 : 0))
            case .float4, .float8: values.append(.real(try cell.decode(Double.self)))
            case .numeric:
                let number = try cell.decode(Decimal.self)
                let integer = Int64(exactly: NSDecimalNumber(decimal: number).doubleValue)
                values.append(integer.map(SQLValue.integer) ?? .real(NSDecimalNumber(decimal: number).doubleValue))
            case .bytea: values.append(.blob(Array(buffer: try cell.decode(ByteBuffer.self))))
            default: values.append(.text(try cell.decode(String.self)))
            }
        }
        return values
    }

    /// Blocks until `future` completes, or fails it after `timeout`.
    private static func wait<Value: Sendable>(for future: EventLoopFuture<Value>, timeout: TimeAmount, on eventLoop: any EventLoop) throws -> Value {
        let promise = eventLoop.makePromise(of: Value.self)
        // Whichever comes first completes the promise: it must not be completed twice.
        let isCompleted = Mutex(false)
        let complete: @Sendable (Result<Value, any Error>) -> Void = { result in
            guard isCompleted.withLock({ completed in defer { completed = true }; return !completed }) else { return }
            promise.completeWith(result)
        }
        let deadline = eventLoop.scheduleTask(in: timeout) {
            complete(.failure(PostgresFailure(sqlState: nil, message: "no answer within \(timeout.nanoseconds / 1_000_000) ms")))
        }
        future.whenComplete { result in
            deadline.cancel()
            complete(result)
        }
        return try promise.futureResult.wait()
    }
}
