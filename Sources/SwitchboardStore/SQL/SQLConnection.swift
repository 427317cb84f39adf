import Foundation
import SwitchboardCore

/// A value bound to, or read from, a statement.
package enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    package init(_ text: String?) { self = text.map(SQLValue.text) ?? .null }
    package init(_ integer: Int64?) { self = integer.map(SQLValue.integer) ?? .null }
    /// Native-endian `Double`s as a blob.
    package init(doubles: [Double]) { self = .blob(doubles.withUnsafeBytes { Array($0) }) }
    /// Milliseconds since 1970; a date beyond what they hold is stored at the nearest end, never a trap.
    package init(_ date: Date?) {
        self = date.map { date in
            let milliseconds = (date.timeIntervalSince1970 * 1000).rounded()
            return .integer(Int64(exactly: milliseconds) ?? (milliseconds > 0 ? Int64.max : Int64.min))
        } ?? .null
    }
}

/// The SQL a backend speaks where the two differ; everything else is written once for both.
package enum SQLDialect: Sendable {
    case sqlite
    case postgres

    /// The text at `key` of a JSON object stored as text in `column`.
    package func jsonText(_ column: String, _ key: String) -> String {
        switch self {
        case .sqlite: "json_extract(\(column), '$.\(key)')"
        case .postgres: "(\(column)::jsonb ->> '\(key)')"
        }
    }

    /// The larger of two values (SQLite's two-argument `max`, PostgreSQL's `greatest`).
    package func greatest(_ first: String, _ second: String) -> String {
        switch self {
        case .sqlite: "max(\(first), \(second))"
        case .postgres: "greatest(\(first), \(second))"
        }
    }

    /// SQLite's `INDEXED BY` hint, for a query its planner gets wrong; PostgreSQL's planner has none.
    package func indexedBy(_ index: String) -> String {
        switch self {
        case .sqlite: "INDEXED BY \(index)"
        case .postgres: ""
        }
    }

    /// The column that orders `webhook_attempts` by insertion: SQLite's rowid, a column of its own on PostgreSQL.
    package var attemptOrder: String {
        switch self {
        case .sqlite: "rowid"
        case .postgres: "attempt_order"
        }
    }
}

/// A failure of the database itself (as opposed to a command the core's rules refused).
package protocol DatabaseFailure: Error, CustomStringConvertible {
    /// Whether the database's disk is full.
    var isStorageFull: Bool { get }
    /// Whether a UNIQUE or PRIMARY KEY constraint failed.
    var isConstraintViolation: Bool { get }
    /// Whether the database cannot hold a value of the request (PostgreSQL refuses NUL in text).
    var isInvalidValue: Bool { get }
}

/// One database connection, used by one thread at a time.
///
/// The store's SQL is written once against this: `?` placeholders (a PostgreSQL connection numbers
/// them), integers for booleans and milliseconds, text for JSON.
package protocol SQLConnection: AnyObject {
    var dialect: SQLDialect { get }
    /// What the writer's current transaction appended, for after its commit.
    var scratch: WriteScratch { get }
    /// Whether a transaction is open: false once the database ended it by itself (a full disk on
    /// SQLite, a lost connection on PostgreSQL).
    var isInTransaction: Bool { get }
    /// Whether the connection can still be used; a broken one is replaced.
    var isUsable: Bool { get }
    /// Begins the writer's transaction, which commits in the order it took the database's write lock.
    func beginWrite() throws
    /// Runs statements without parameters or results (`BEGIN`, `COMMIT`, `SAVEPOINT ...`).
    func execute(_ sql: String) throws
    /// Runs a statement without parameters or results whose failure may be reported by the next
    /// statement that waits for its answer instead (`SAVEPOINT`, `RELEASE`): on PostgreSQL the caller
    /// does not wait for it, saving a thread wake-up; SQLite runs it at once. The next `execute`, `run` or
    /// query throws the first failure of the statements queued before it.
    func queue(_ sql: String, _ bindings: [SQLValue]) throws
    /// Runs a statement for its effect; returns the number of rows changed.
    @discardableResult
    func run(_ sql: String, _ bindings: [SQLValue]) throws -> Int
    /// Runs a query and maps each row.
    func query<Row>(_ sql: String, _ bindings: [SQLValue], _ map: (SQLRow) throws -> Row) throws -> [Row]
    /// Runs a query and maps its first row, if any.
    func queryFirst<Row>(_ sql: String, _ bindings: [SQLValue], _ map: (SQLRow) throws -> Row) throws -> Row?
    /// Runs `INSERT INTO table (columns) VALUES (?, …) [tail]`, one row whose count of changed rows
    /// nobody reads; `returned` gets the row of the tail's `RETURNING`. A connection that defers writes
    /// (`DeferringSQLConnection`) may hold it and send it later with the others of the same text as one
    /// multi-row statement; `returned` is then called by the flush, and a failure surfaces there.
    func insert(_ sql: String, _ bindings: [SQLValue], returned: ((SQLRow) throws -> Void)?) throws
    /// Whether writes are being deferred now, so that rows read in this transaction may be kept in
    /// `WriteScratch` instead of read again (nothing else writes while the writer holds its lock).
    var defersWrites: Bool { get }
    func close()
}

/// A connection that can defer the writer's inserts and send them together, fewer round trips for a
/// group commit (PostgreSQL: one statement is one round trip, whatever it holds).
///
/// While deferring, the writer takes no savepoint per job: a job whose effects cannot be undone by
/// dropping its deferred rows (it sent a write, or a statement failed), or a flush that fails, makes
/// the writer roll the group back and run it again the ordinary way, one savepoint per job.
package protocol DeferringSQLConnection: SQLConnection {
    /// Starts deferring inserts, for the transaction about to begin.
    func beginDeferring()
    /// Where the next job's deferred rows start; also forgets whether the last job sent a write.
    func markJob() -> Int
    /// Whether, since the last `markJob()`, a write was sent rather than deferred, deferred rows included.
    var hasSentWrite: Bool { get }
    /// Whether a statement failed since `beginDeferring()`: the transaction cannot commit.
    var hasFailedStatement: Bool { get }
    /// Drops the rows deferred since `mark` (a job that threw before any of them was sent).
    func dropDeferred(since mark: Int)
    /// Sends every deferred row; their `returned` callbacks run.
    func flush() throws
    /// Stops deferring and forgets what was still deferred (the transaction is being rolled back).
    func endDeferring()
}

/// Asks the writer to roll its group back and run it again, one savepoint per job: what was deferred
/// could not be written, or a job's effects cannot be undone alone.
package struct DeferredWriteFailed: Error {
    package let underlying: any Error
    package init(_ underlying: any Error) { self.underlying = underlying }
}

extension SQLConnection {
    /// Runs the insert at once (`insertNow`).
    package func insert(_ sql: String, _ bindings: [SQLValue], returned: ((SQLRow) throws -> Void)?) throws {
        try insertNow(sql, bindings, returned: returned)
    }

    /// Runs an `insert` at once: what a connection that does not defer it does.
    package func insertNow(_ sql: String, _ bindings: [SQLValue], returned: ((SQLRow) throws -> Void)?) throws {
        guard let returned else { return _ = try run(sql, bindings) }
        guard try queryFirst(sql, bindings, { try returned($0) }) != nil else { throw SQLStore.unavailableError }
    }

    package var defersWrites: Bool { false }

    @discardableResult
    package func run(_ sql: String) throws -> Int { try run(sql, []) }

    package func queue(_ sql: String) throws { try queue(sql, []) }

    package func query<Row>(_ sql: String, _ map: (SQLRow) throws -> Row) throws -> [Row] { try query(sql, [], map) }

    package func queryFirst<Row>(_ sql: String, _ map: (SQLRow) throws -> Row) throws -> Row? { try queryFirst(sql, [], map) }

    /// The events the writer's current transaction inserted, in position order.
    package var appendedEvents: [RecentEvents.Entry] {
        get { scratch.appendedEvents }
        set { scratch.appendedEvents = newValue }
    }

    /// The cached records the writer's current transaction saved.
    package var changedRecords: [ChangedRecord] {
        get { scratch.changedRecords }
        set { scratch.changedRecords = newValue }
    }

    /// The last seq each tenant's log reached in the writer's current transaction.
    package var appendedLastSeqs: [String: Int64] {
        get { scratch.appendedLastSeqs }
        set { scratch.appendedLastSeqs = newValue }
    }

    /// Stores the last seq of every tenant whose log the current transaction appended to (queued: the
    /// commit that follows waits for it, and fails when it did).
    package func storeAppendedLastSeqs() throws {
        for (tenant, seq) in scratch.appendedLastSeqs {
            try queue("UPDATE tenants SET last_seq = ? WHERE id = ?", [.integer(seq), .text(tenant)])
        }
    }
}

/// What a write transaction appended, kept beside its connection until the commit hands it on.
///
/// - Important: Not thread-safe: only the writer thread touches it, like the connection it belongs to.
package final class WriteScratch {
    /// The events the transaction inserted, in position order; appended by `ChatTransaction`, trimmed
    /// on a rolled-back savepoint and taken after the commit by `SQLWriter`.
    package var appendedEvents: [RecentEvents.Entry] = []
    /// The cached records the transaction saved (`RecordCache`); kept when a savepoint rolls back,
    /// since dropping a copy that is still current costs only a read.
    package var changedRecords: [ChangedRecord] = []
    /// The last seq each tenant's log reached in the transaction; kept in memory while it runs and
    /// stored in `tenants.last_seq` by `storeAppendedLastSeqs()` just before the commit.
    package var appendedLastSeqs: [String: Int64] = [:]
    /// Conversations as this transaction last read or wrote them, by tenant and id, while the connection
    /// defers writes (`SQLConnection.defersWrites`): a group of messages to one conversation reads it
    /// once. Emptied when a job fails and by any other write to `conversations`.
    package var conversations: [ConversationKey: Conversation] = [:]

    package struct ConversationKey: Hashable {
        package let tenant: String
        package let id: String
        package init(tenant: String, id: String) {
            self.tenant = tenant
            self.id = id
        }
    }

    package init() {}

    /// Forgets what a write transaction appended: before the next one begins, and once it was handed on.
    package func clear() {
        appendedEvents = []
        changedRecords = []
        appendedLastSeqs = [:]
        conversations = [:]
    }

    /// Forgets the events appended after the first `count`, whose savepoint was rolled back, and sets
    /// each of their tenants' last seq back to the events that remain.
    package func dropAppendedEvents(after count: Int) {
        let tenants = Set(appendedEvents[count...].map(\.event.tenantID))
        appendedEvents.removeSubrange(count...)
        for tenant in tenants {
            appendedLastSeqs[tenant] = appendedEvents.last { $0.event.tenantID == tenant }?.event.seq
        }
    }
}

/// One row of a result, valid only inside the mapping closure: read from SQLite's statement in place,
/// or from the values a PostgreSQL row was decoded into. Reads convert as SQLite does: a NULL reads as
/// 0 or "", an integer as its decimal text.
package struct SQLRow {
    private let source: Source

    private enum Source {
        case sqlite(SQLiteRow)
        case values([SQLValue])
    }

    init(sqlite row: SQLiteRow) { source = .sqlite(row) }

    package init(values: [SQLValue]) { source = .values(values) }

    private func value(_ column: Int32) -> SQLValue {
        guard case .values(let values) = source, column >= 0, Int(column) < values.count else { return .null }
        return values[Int(column)]
    }

    /// The value as the database holds it, of whichever type: for copying rows between databases.
    package func storedValue(_ column: Int32) -> SQLValue {
        if case .sqlite(let row) = source { return row.value(column) }
        return value(column)
    }

    package func isNull(_ column: Int32) -> Bool {
        if case .sqlite(let row) = source { return row.isNull(column) }
        return value(column) == .null
    }

    package func int64(_ column: Int32) -> Int64 {
        if case .sqlite(let row) = source { return row.int64(column) }
        switch value(column) {
        case .integer(let integer): return integer
        case .real(let real): return Int64(exactly: real.rounded(.towardZero)) ?? 0
        case .text(let text): return Int64(text) ?? 0
        case .null, .blob: return 0
        }
    }

    package func int(_ column: Int32) -> Int { Int(truncatingIfNeeded: int64(column)) }

    package func double(_ column: Int32) -> Double {
        if case .sqlite(let row) = source { return row.double(column) }
        switch value(column) {
        case .integer(let integer): return Double(integer)
        case .real(let real): return real
        case .text(let text): return Double(text) ?? 0
        case .null, .blob: return 0
        }
    }

    package func text(_ column: Int32) -> String {
        if case .sqlite(let row) = source { return row.text(column) }
        switch value(column) {
        case .text(let text): return text
        case .integer(let integer): return String(integer)
        case .real(let real): return String(real)
        case .blob(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .null: return ""
        }
    }

    package func optionalText(_ column: Int32) -> String? { isNull(column) ? nil : text(column) }

    package func blob(_ column: Int32) -> [UInt8] {
        if case .sqlite(let row) = source { return row.blob(column) }
        switch value(column) {
        case .blob(let bytes): return bytes
        case .text(let text): return Array(text.utf8)
        case .null, .integer, .real: return []
        }
    }

    /// A blob of native-endian `Double`s, as `SQLValue(doubles:)` stores them.
    package func doubles(_ column: Int32) -> [Double] {
        if case .sqlite(let row) = source { return row.doubles(column) }
        let bytes = blob(column)
        let count = bytes.count / MemoryLayout<Double>.size
        return bytes.withUnsafeBytes { raw in
            (0..<count).map { raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<Double>.size, as: Double.self) }
        }
    }

    package func date(_ column: Int32) -> Date { Date(timeIntervalSince1970: Double(int64(column)) / 1000) }
    package func optionalDate(_ column: Int32) -> Date? { isNull(column) ? nil : date(column) }
}
