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
    /// Inserts held back while the writer defers (`beginDeferring()`), in the order they were made,
    /// and the tables they go to.
    private var deferred: [DeferredInsert] = []
    private var deferredTables: Set<String> = []
    private var insertStatements: [String: InsertStatement] = [:]
    private(set) var defersWrites = false
    private(set) var hasSentWrite = false
    private(set) var hasFailedStatement = false

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
        try prepare(for: sql)
        queued.append(send(numberedPlaceholders(sql), bindings))
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

    func insert(_ sql: String, _ bindings: [SQLValue], returned: ((SQLRow) throws -> Void)?) throws {
        guard defersWrites, let statement = insertStatement(sql), statement.columns == bindings.count else {
            return try insertNow(sql, bindings, returned: returned)
        }
        // PostgreSQL refuses NUL in text; refused here, the job fails alone, before any round trip.
        for case .text(let text) in bindings where text.utf8.contains(0) {
            throw PostgresFailure(sqlState: "22021", message: "invalid byte sequence for encoding \"UTF8\": 0x00")
        }
        deferred.append(DeferredInsert(statement: statement, bindings: bindings, returned: returned))
        deferredTables.insert(statement.table)
    }

    func close() {
        guard !connection.isClosed else { return }
        _ = try? Self.wait(for: connection.close(), timeout: timeout, on: connection.eventLoop)
    }

    /// Runs one statement and collects its rows, after the answers to the statements queued before it:
    /// the first of them that failed is what throws.
    private func perform(_ sql: String, _ bindings: [SQLValue]) throws -> PostgresQueryResult {
        try prepare(for: sql)
        return try perform(numbered: numberedPlaceholders(sql), bindings)
    }

    /// Runs one statement whose placeholders are numbered already (`$1`, …), after the answers to the
    /// statements queued before it.
    private func perform(numbered sql: String, _ bindings: [SQLValue]) throws -> PostgresQueryResult {
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
            if defersWrites { hasFailedStatement = true }
            if failure.breaksConnection {
                isBroken = true
                close()
            }
            throw failure
        }
    }

    /// Before `sql` runs while the writer defers: notes a write sent (and forgets the conversations the
    /// transaction kept, when it may change them), and sends the deferred rows first when `sql` names
    /// one of their tables or commits.
    private func prepare(for sql: String) throws {
        guard defersWrites else { return }
        if !sql.hasPrefix("SELECT") {
            hasSentWrite = true
            if Self.names(sql, table: "conversations") { scratch.conversations = [:] }
        }
        guard !deferred.isEmpty, sql == "COMMIT" || deferredTables.contains(where: { Self.names(sql, table: $0) }) else { return }
        try flush()
    }

    /// Whether `sql` has `table` as a whole word.
    static func names(_ sql: String, table: String) -> Bool {
        let text = sql.utf8
        var searched = text.startIndex
        while let found = sql[searched...].range(of: table) {
            let before = found.lowerBound == text.startIndex ? nil : text[text.index(before: found.lowerBound)]
            let after = found.upperBound == text.endIndex ? nil : text[found.upperBound]
            if !isWordByte(before), !isWordByte(after) { return true }
            searched = found.upperBound
        }
        return false
    }

    private static func isWordByte(_ byte: UInt8?) -> Bool {
        guard let byte else { return false }
        return byte == UInt8(ascii: "_") || (byte >= 0x30 && byte <= 0x39) || ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7a)
    }

    private func insertStatement(_ sql: String) -> InsertStatement? {
        if let known = insertStatements[sql] { return known }
        let statement = InsertStatement(sql)
        if let statement { insertStatements[sql] = statement }
        return statement
    }

    /// Sends one statement whose placeholders are numbered; its answer completes the future.
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
        return connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
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

// MARK: - Deferred inserts

extension PostgresSQLConnection: DeferringSQLConnection {
    func beginDeferring() {
        deferred = []
        deferredTables = []
        defersWrites = true
        hasSentWrite = false
        hasFailedStatement = false
    }

    func markJob() -> Int {
        hasSentWrite = false
        return deferred.count
    }

    func dropDeferred(since mark: Int) {
        guard mark < deferred.count else { return }
        deferred.removeSubrange(mark...)
        deferredTables = Set(deferred.map(\.statement.table))
    }

    func endDeferring() {
        deferred = []
        deferredTables = []
        defersWrites = false
    }

    /// Sends the deferred rows as few statements as `DeferredInsert.statements` makes of them.
    /// - Throws: `DeferredWriteFailed`: the writer runs the group again, one savepoint per job.
    func flush() throws {
        guard !deferred.isEmpty else { return }
        let rows = deferred
        deferred = []
        deferredTables = []
        // Rows of the running job may be among them: it can no longer be undone by dropping rows.
        hasSentWrite = true
        do {
            for statement in DeferredInsert.statements(of: rows) {
                let result = try perform(numbered: statement.sql, statement.bindings)
                let returned = try result.rows.map { try Self.values(of: $0) }
                let expectsRows = statement.returned.contains { $0 != nil }
                guard !expectsRows || returned.count == statement.returned.count else {
                    throw PostgresFailure(sqlState: nil, message: "\(returned.count) rows returned for \(statement.returned.count) inserted")
                }
                for (values, callback) in zip(returned, statement.returned) { try callback?(SQLRow(values: values)) }
            }
        } catch {
            throw DeferredWriteFailed(error)
        }
    }
}

/// `INSERT INTO table (columns) VALUES (?, …) tail`, split so that rows can be added to it.
struct InsertStatement: Hashable {
    let table: String
    /// Everything before the row, `VALUES` included.
    let head: String
    /// What follows the row (`ON CONFLICT …`, `RETURNING …`); it has no placeholder.
    let tail: String
    let columns: Int

    /// Splits `sql`; nil unless it is one row of `?` placeholders and a tail without any.
    init?(_ sql: String) {
        guard sql.hasPrefix("INSERT INTO "), let values = sql.range(of: "VALUES ("),
            let end = sql[values.upperBound...].firstIndex(of: ")")
        else { return nil }
        let placeholders = sql[values.upperBound..<end].split(separator: ",").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        let tail = sql[sql.index(after: end)...]
        guard !placeholders.isEmpty, placeholders.allSatisfy({ $0 == "?" }), !tail.contains("?") else { return nil }
        table = String(sql.dropFirst("INSERT INTO ".count).prefix { $0 != " " && $0 != "(" })
        head = String(sql[..<values.lowerBound]) + "VALUES"
        self.tail = String(tail)
        columns = placeholders.count
    }

    var returnsRows: Bool { PostgresSQLConnection.names(tail, table: "RETURNING") }
}

/// One row of an insert held back while the writer defers.
struct DeferredInsert {
    /// The most values one statement binds (PostgreSQL takes at most 65,535).
    static let maxBindings = 30_000

    let statement: InsertStatement
    let bindings: [SQLValue]
    let returned: ((SQLRow) throws -> Void)?

    /// What a flush sends: the rows of each insert text in multi-row `VALUES`, in the order they were
    /// made; and, when they fit in one statement and at most one returns rows, every insert in one
    /// statement, the others as `WITH` clauses of the one that returns rows (or of the last).
    static func statements(of rows: [DeferredInsert]) -> [(sql: String, bindings: [SQLValue], returned: [((SQLRow) throws -> Void)?])] {
        var order: [InsertStatement] = []
        var groups: [InsertStatement: [DeferredInsert]] = [:]
        for row in rows {
            if groups[row.statement] == nil { order.append(row.statement) }
            groups[row.statement, default: []].append(row)
        }
        // Pieces of at most `maxBindings` values, each one insert of one text.
        var pieces: [(statement: InsertStatement, rows: ArraySlice<DeferredInsert>)] = []
        for statement in order {
            let all = groups[statement] ?? []
            let perPiece = max(1, maxBindings / statement.columns)
            for start in stride(from: 0, to: all.count, by: perPiece) {
                pieces.append((statement, all[start..<min(start + perPiece, all.count)]))
            }
        }
        let returning = pieces.filter(\.statement.returnsRows)
        let total = rows.reduce(0) { $0 + $1.bindings.count }
        guard pieces.count > 1, returning.count <= 1, total <= maxBindings else {
            return pieces.map { piece in
                var bindings: [SQLValue] = []
                let sql = text(of: piece, numberingFrom: 1, into: &bindings)
                return (sql, bindings, piece.rows.map(\.returned))
            }
        }
        let main = returning.first ?? pieces[pieces.count - 1]
        var bindings: [SQLValue] = []
        var clauses: [String] = []
        for piece in pieces where piece.statement != main.statement || piece.rows.startIndex != main.rows.startIndex {
            clauses.append("d\(clauses.count) AS (\(text(of: piece, numberingFrom: bindings.count + 1, into: &bindings)))")
        }
        let last = text(of: main, numberingFrom: bindings.count + 1, into: &bindings)
        return [("WITH " + clauses.joined(separator: ", ") + " " + last, bindings, main.rows.map(\.returned))]
    }

    /// The insert of `piece`'s rows, its placeholders numbered from `first`; appends their values.
    private static func text(
        of piece: (statement: InsertStatement, rows: ArraySlice<DeferredInsert>),
        numberingFrom first: Int,
        into bindings: inout [SQLValue]
    ) -> String {
        var next = first
        var rows: [String] = []
        rows.reserveCapacity(piece.rows.count)
        for row in piece.rows {
            let placeholders = (next..<(next + piece.statement.columns)).map { "$\($0)" }
            rows.append("(" + placeholders.joined(separator: ", ") + ")")
            next += piece.statement.columns
            bindings.append(contentsOf: row.bindings)
        }
        return piece.statement.head + " " + rows.joined(separator: ", ") + piece.statement.tail
    }
}
