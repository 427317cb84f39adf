import CSQLite
import Foundation
import SwitchboardCore

/// A failure reported by SQLite. Its text is for logs only, never for clients.
public struct SQLiteError: DatabaseFailure {
    /// The extended result code.
    public let code: Int32
    /// SQLite's message.
    public let message: String

    public var description: String { "SQLite error \(code): \(message)" }

    package var isConstraintViolation: Bool { code & 0xFF == SQLITE_CONSTRAINT }

    package var isStorageFull: Bool { code & 0xFF == SQLITE_FULL }

    /// Never: SQLite stores any text and blob.
    package var isInvalidValue: Bool { false }
}

/// One SQLite connection with a cache of prepared statements.
///
/// - Important: Not thread-safe. A connection is used by one thread at a time: the writer's own
///   thread, or the thread that checked it out of a `SQLiteReaderPool`. That discipline is why it is
///   `@unchecked Sendable`: it moves between threads but is never shared.
final class SQLiteConnection: SQLConnection, @unchecked Sendable {
    private let handle: OpaquePointer
    private var statements: [String: OpaquePointer] = [:]
    private var isClosed = false
    let scratch = WriteScratch()
    /// The checkpointer the connection reports its WAL's size to, kept alive as long as the connection.
    private var walReport: SQLiteCheckpointer?

    /// Opens (and for a writer, creates) the database at `path` and applies the connection settings.
    init(path: String, isReadOnly: Bool, synchronous: String) throws {
        Self.configureLibrary
        var handle: OpaquePointer?
        let flags = (isReadOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX
        let status = sqlite3_open_v2(path, &handle, flags, nil)
        guard status == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close_v2(handle)
            throw SQLiteError(code: status, message: message)
        }
        self.handle = handle
        sqlite3_extended_result_codes(handle, 1)
        sqlite3_busy_timeout(handle, 10_000)
        if !isReadOnly {
            try execute("PRAGMA journal_mode = WAL")
        }
        try execute("PRAGMA synchronous = \(synchronous)")
        try execute("PRAGMA foreign_keys = ON")
        try execute("PRAGMA temp_store = MEMORY")
    }

    /// Process-wide SQLite settings, applied once before the first connection opens.
    private static let configureLibrary: Void = {
        _ = switchboard_sqlite3_disable_memory_statistics()
    }()

    deinit {
        close()
    }

    /// Finalizes the cached statements and closes the handle; the last connection to close
    /// checkpoints the WAL and removes it. Later calls do nothing.
    func close() {
        guard !isClosed else { return }
        isClosed = true
        for statement in statements.values { sqlite3_finalize(statement) }
        statements.removeAll()
        sqlite3_close_v2(handle)
    }

    /// After each commit, hands the WAL's size to `checkpointer` instead of checkpointing past 1,000
    /// pages inside the commit as SQLite does, and checkpoints only when the checkpointer says so.
    func reportWALSize(to checkpointer: SQLiteCheckpointer) {
        walReport = checkpointer
        sqlite3_wal_hook(
            handle,
            { context, database, _, pages in
                guard let context else { return SQLITE_OK }
                if Unmanaged<SQLiteCheckpointer>.fromOpaque(context).takeUnretainedValue().walReached(pages: Int(pages)) {
                    sqlite3_wal_checkpoint_v2(database, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
                }
                return SQLITE_OK
            },
            Unmanaged.passUnretained(checkpointer).toOpaque()
        )
    }

    /// Copies what it can of the WAL into the database, without waiting for the writer or readers.
    /// - Throws: `SQLiteError`; not when another connection is checkpointing (`SQLITE_BUSY`).
    func checkpoint() throws {
        let status = sqlite3_wal_checkpoint_v2(handle, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
        guard status == SQLITE_OK || status == SQLITE_BUSY else {
            throw SQLiteError(code: status, message: String(cString: sqlite3_errmsg(handle)))
        }
    }

    /// Runs one or more statements without results.
    func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        let status = sqlite3_exec(handle, sql, nil, nil, &message)
        guard status == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(message)
            throw SQLiteError(code: status, message: text)
        }
    }

    /// Runs at once: SQLite has no round trip to save.
    func queue(_ sql: String, _ bindings: [SQLValue]) throws { try run(sql, bindings) }

    var dialect: SQLDialect { .sqlite }

    /// Always: a SQLite connection does not break.
    var isUsable: Bool { true }

    /// `BEGIN IMMEDIATE`: the write lock is taken at once, so the transaction cannot fail for another writer later.
    func beginWrite() throws {
        try execute("BEGIN IMMEDIATE")
    }

    /// Whether a transaction is open: false once SQLite rolled one back by itself (on `SQLITE_FULL`, say).
    var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// Runs a statement for its effect; returns the number of rows changed.
    @discardableResult
    func run(_ sql: String, _ bindings: [SQLValue]) throws -> Int {
        let statement = try prepared(sql, bindings)
        defer { sqlite3_reset(statement) }
        var status = sqlite3_step(statement)
        while status == SQLITE_ROW { status = sqlite3_step(statement) }
        guard status == SQLITE_DONE else { throw lastError(status) }
        return Int(sqlite3_changes(handle))
    }

    /// Runs a query and maps each row.
    func query<Row>(_ sql: String, _ bindings: [SQLValue], _ map: (SQLRow) throws -> Row) throws -> [Row] {
        let statement = try prepared(sql, bindings)
        defer { sqlite3_reset(statement) }
        var rows: [Row] = []
        while true {
            let status = sqlite3_step(statement)
            if status == SQLITE_DONE { return rows }
            guard status == SQLITE_ROW else { throw lastError(status) }
            rows.append(try map(SQLRow(sqlite: SQLiteRow(statement: statement))))
        }
    }

    /// Runs a query and maps its first row, if any.
    func queryFirst<Row>(_ sql: String, _ bindings: [SQLValue], _ map: (SQLRow) throws -> Row) throws -> Row? {
        let statement = try prepared(sql, bindings)
        defer { sqlite3_reset(statement) }
        let status = sqlite3_step(statement)
        if status == SQLITE_DONE { return nil }
        guard status == SQLITE_ROW else { throw lastError(status) }
        return try map(SQLRow(sqlite: SQLiteRow(statement: statement)))
    }

    private func prepared(_ sql: String, _ bindings: [SQLValue]) throws -> OpaquePointer {
        let statement: OpaquePointer
        if let cached = statements[sql] {
            statement = cached
        } else {
            var created: OpaquePointer?
            let status = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &created, nil)
            guard status == SQLITE_OK, let created else { throw lastError(status) }
            statements[sql] = created
            statement = created
        }
        sqlite3_clear_bindings(statement)
        for (offset, value) in bindings.enumerated() {
            let index = Int32(offset + 1)
            let status: Int32
            switch value {
            case .null: status = sqlite3_bind_null(statement, index)
            case .integer(let integer): status = sqlite3_bind_int64(statement, index, integer)
            case .real(let real): status = sqlite3_bind_double(statement, index, real)
            case .text(let text): status = sqlite3_bind_text(statement, index, text, -1, SQLITE_TRANSIENT)
            case .blob(let bytes):
                status = bytes.withUnsafeBytes { sqlite3_bind_blob(statement, index, $0.baseAddress, Int32($0.count), SQLITE_TRANSIENT) }
            }
            guard status == SQLITE_OK else { throw lastError(status) }
        }
        return statement
    }

    private func lastError(_ status: Int32) -> SQLiteError {
        SQLiteError(code: sqlite3_extended_errcode(handle), message: String(cString: sqlite3_errmsg(handle)))
    }
}

/// SQLite's "copy this value now" destructor, which the C macro SQLITE_TRANSIENT spells as -1.
private let SQLITE_TRANSIENT = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// The current row of a statement; valid only inside the mapping closure.
struct SQLiteRow {
    let statement: OpaquePointer

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }
    func value(_ column: Int32) -> SQLValue {
        switch sqlite3_column_type(statement, column) {
        case SQLITE_INTEGER: .integer(int64(column))
        case SQLITE_FLOAT: .real(double(column))
        // Every byte, a NUL included; text that is not UTF-8 stays bytes, for the copy to refuse.
        case SQLITE_TEXT: String(validating: blob(column), as: UTF8.self).map(SQLValue.text) ?? .blob(blob(column))
        case SQLITE_BLOB: .blob(blob(column))
        default: .null
        }
    }
    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }
    func int(_ column: Int32) -> Int { Int(sqlite3_column_int64(statement, column)) }
    func double(_ column: Int32) -> Double { sqlite3_column_double(statement, column) }
    func text(_ column: Int32) -> String {
        guard let pointer = sqlite3_column_text(statement, column) else { return "" }
        return String(cString: pointer)
    }
    func optionalText(_ column: Int32) -> String? { isNull(column) ? nil : text(column) }
    func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(statement, column))
        guard count > 0, let pointer = sqlite3_column_blob(statement, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }
    /// A blob of native-endian `Double`s, as `SQLValue(doubles:)` stores them.
    func doubles(_ column: Int32) -> [Double] {
        let count = Int(sqlite3_column_bytes(statement, column)) / MemoryLayout<Double>.size
        guard count > 0, let pointer = sqlite3_column_blob(statement, column) else { return [] }
        let bytes = UnsafeRawBufferPointer(start: pointer, count: count * MemoryLayout<Double>.size)
        return (0..<count).map { bytes.loadUnaligned(fromByteOffset: $0 * MemoryLayout<Double>.size, as: Double.self) }
    }
    func date(_ column: Int32) -> Date { Date(timeIntervalSince1970: Double(int64(column)) / 1000) }
    func optionalDate(_ column: Int32) -> Date? { isNull(column) ? nil : date(column) }
}
