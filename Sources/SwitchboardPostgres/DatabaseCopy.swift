import Foundation
import Logging
import NIOCore
import SwitchboardCore
import SwitchboardStore

/// Copies a whole SQLite deployment into an empty PostgreSQL database (`switchboard db copy`): every
/// table row for row, the event log with its positions and seqs, and the identity sequences moved
/// past what SQLite handed out.
///
/// The copy reads one snapshot of the SQLite file, which no server may have open meanwhile, and
/// writes in one PostgreSQL transaction under the writers' advisory lock: the target ends up with all
/// of it or nothing. The tables and their columns are read from both schemas (the same version on both
/// sides), so a migration that adds a table needs nothing here.
public enum DatabaseCopy {
    /// How far the copy is: `copied` of `total` rows of `table`.
    public struct Progress: Sendable {
        public let table: String
        public let copied: Int
        public let total: Int
    }

    /// Both sides' figures after the copy.
    public struct Report: Sendable {
        /// Each table's rows in the source and in the target.
        public let rows: [(table: String, source: Int64, target: Int64)]
        /// Each tenant's last seq in the source and in the target (-1 where it has none).
        public let lastSeqs: [(tenant: String, source: Int64, target: Int64)]

        /// Whether every count and every last seq is the same on both sides.
        public var matches: Bool { rows.allSatisfy { $0.source == $0.target } && lastSeqs.allSatisfy { $0.source == $0.target } }
    }

    /// Rows per INSERT, within PostgreSQL's 65,535 parameters per statement.
    private static let batchRows = 500

    /// Copies the SQLite database at `path` into the PostgreSQL database of `settings.url`, creating
    /// its schema first.
    /// - Parameter progress: called after each batch, on the calling thread.
    /// - Throws: `SwitchboardError` (`copy_refused`) for a target that holds rows, or schemas that
    ///   differ; the databases' own failures, naming the table.
    public static func run(
        fromSQLite path: String,
        to settings: DatabaseSettings,
        logger: Logger,
        progress: (Progress) -> Void
    ) throws -> Report {
        guard let url = settings.url else { throw refused("no PostgreSQL URL to copy to") }
        let source = try SQLiteSource(path: path)
        defer { source.close() }
        // A copy's statements and reads are larger than a request's: no less than a minute each.
        let target = try PostgresSQLConnection(
            target: try PostgresTarget(url: url),
            timeout: max(settings.statementTimeout, .seconds(60)),
            eventLoop: PostgresEngine.eventLoops.next(),
            logger: logger
        )
        defer { target.close() }
        // Checked before migrating too: a mistyped URL must not upgrade a live deployment's schema.
        try refuseRows(in: target)
        _ = try PostgresMigrations.run(on: target)
        let tables = try plan(source: source, target: target)

        // One snapshot of the source for the copy and the counts that check it.
        try source.connection.execute("BEGIN")
        defer { try? source.connection.execute("COMMIT") }
        try target.beginWrite()
        let report: Report
        do {
            try refuseRows(in: target)
            for table in tables { try copy(table, from: source, to: target, progress: progress) }
            // Compared inside the transaction: a copy that differs is rolled back, never left behind.
            report = try compare(tables.map(\.name), source: source.connection, target: target)
            guard report.matches else { throw Differs(report: report) }
        } catch {
            if target.isUsable { try? target.execute("ROLLBACK") }
            throw error
        }
        do {
            try target.execute("COMMIT")
        } catch {
            throw refused("the answer to COMMIT was lost (\(error)): the copy may or may not be in the target; check it before using or copying again")
        }
        return report
    }

    /// The copy differed from its source and was rolled back.
    public struct Differs: Error, CustomStringConvertible {
        public let report: Report
        public var description: String { "the copy differs from its source and was rolled back" }
    }

    /// The tables of the target's schema, its version table excepted.
    static func tables(of target: PostgresSQLConnection) throws -> [String] {
        try target.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> ?",
            [.text(PostgresMigrations.versionTable)]
        ) { $0.text(0) }
    }

    /// Throws when any table of the target's schema holds a row.
    static func refuseRows(in target: PostgresSQLConnection) throws {
        for table in try tables(of: target) where try target.queryFirst("SELECT 1 FROM \(quoted(table)) LIMIT 1", { _ in true }) != nil {
            throw refused("the target database is not empty (table \(table) has rows): copy into a new database")
        }
    }

    /// One table to copy: its columns on both sides, and the target's identity columns that take
    /// explicit values.
    struct Table {
        let name: String
        let columns: [Column]
        let hasRowID: Bool
        /// The primary key's columns, in key order: how a table without rowid is paged.
        let primaryKey: [String]
        let identities: [String]
    }

    struct Column {
        let name: String
        /// PostgreSQL's type: `bigint`, `double precision`, `text` or `bytea`.
        let type: String
    }

    /// The tables in an order that inserts every referenced row first, with their columns.
    /// - Throws: when the two schemas do not have the same tables and columns.
    static func plan(source: SQLiteSource, target: PostgresSQLConnection) throws -> [Table] {
        let sourceTables = try source.tables()
        let targetTables = try tables(of: target)
        guard Set(sourceTables.map(\.name)) == Set(targetTables) else {
            let missing = Set(sourceTables.map(\.name)).symmetricDifference(targetTables).sorted()
            throw refused("the two schemas differ in tables: \(missing.joined(separator: ", "))")
        }
        var tables: [String: Table] = [:]
        for (name, hasRowID) in sourceTables {
            let described = try target.query(
                "SELECT column_name, data_type, is_identity, identity_generation FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
                [.text(name)]
            ) { (name: $0.text(0), type: $0.text(1), isIdentity: $0.text(2) == "YES", generation: $0.text(3)) }
            // A column PostgreSQL always makes itself (webhook_attempts' insertion order) follows the order of the inserts.
            let columns = described.filter { !($0.isIdentity && $0.generation == "ALWAYS") }
            let sourceColumns = try source.columns(of: name)
            guard Set(columns.map(\.name)) == Set(sourceColumns) else {
                throw refused("the two schemas differ in the columns of \(name)")
            }
            tables[name] = Table(
                name: name,
                columns: columns.map { Column(name: $0.name, type: $0.type) },
                hasRowID: hasRowID,
                primaryKey: try source.primaryKey(of: name),
                identities: described.filter { $0.isIdentity && $0.generation == "BY DEFAULT" }.map(\.name)
            )
        }
        let references = try target.query(
            "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint WHERE contype = 'f' AND connamespace = current_schema()::regnamespace"
        ) { (table: $0.text(0), referenced: $0.text(1)) }
        var ordered: [Table] = []
        var placed: Set<String> = []
        var remaining = tables.keys.sorted()
        while !remaining.isEmpty {
            let ready = remaining.filter { name in
                references.allSatisfy { $0.table != name || $0.referenced == name || placed.contains($0.referenced) }
            }
            guard !ready.isEmpty else { throw refused("the foreign keys among \(remaining.joined(separator: ", ")) form a cycle") }
            for name in ready {
                if let table = tables[name] { ordered.append(table) }
                placed.insert(name)
            }
            remaining.removeAll { placed.contains($0) }
        }
        return ordered
    }

    /// Copies the rows of `table` in batches, in rowid order where it has one (the order
    /// `webhook_attempts` keeps), then moves its identity sequences past the largest value SQLite gave.
    static func copy(_ table: Table, from source: SQLiteSource, to target: PostgresSQLConnection, progress: (Progress) -> Void) throws {
        let names = table.columns.map { quoted($0.name) }.joined(separator: ", ")
        let total = try source.connection.queryFirst("SELECT count(*) FROM \(quoted(table.name))") { $0.int(0) } ?? 0
        // Keyset paging, by rowid or by the primary key: each batch starts where the last one ended.
        let keys = table.hasRowID ? ["rowid"] : table.primaryKey
        guard !keys.isEmpty else { throw refused("\(table.name) has neither a rowid nor a primary key") }
        let keyList = keys.map { quoted($0) }.joined(separator: ", ")
        let order = "ORDER BY \(keyList) LIMIT \(batchRows)"
        let first = "SELECT \(keyList), \(names) FROM \(quoted(table.name)) \(order)"
        let next =
            "SELECT \(keyList), \(names) FROM \(quoted(table.name)) WHERE (\(keyList)) > (\(keys.map { _ in "?" }.joined(separator: ", "))) \(order)"
        let rowSQL = "(" + Array(repeating: "?", count: table.columns.count).joined(separator: ", ") + ")"
        var copied = 0
        var lastKey: [SQLValue]?
        progress(Progress(table: table.name, copied: 0, total: total))
        while true {
            let rows = try source.connection.query(lastKey == nil ? first : next, lastKey ?? []) { row in
                (key: keys.indices.map { row.storedValue(Int32($0)) }, values: try table.columns.indices.map { index in
                    try convert(row.storedValue(Int32(keys.count + index)), to: table.columns[index], of: table.name)
                })
            }
            guard let last = rows.last else { break }
            do {
                try target.run(
                    "INSERT INTO \(quoted(table.name)) (\(names)) VALUES " + Array(repeating: rowSQL, count: rows.count).joined(separator: ", "),
                    rows.flatMap(\.values)
                )
            } catch {
                throw PostgresFailure(sqlState: (error as? PostgresFailure)?.sqlState, message: "copying \(table.name): \(error)")
            }
            lastKey = last.key
            copied += rows.count
            progress(Progress(table: table.name, copied: copied, total: total))
        }
        for column in table.identities {
            let handedOut = try source.lastAutoincrement(of: table.name)
            let largest = try target.queryFirst("SELECT coalesce(max(\(quoted(column))), 0) FROM \(quoted(table.name))") { $0.int64(0) } ?? 0
            let last = max(handedOut, largest)
            guard last > 0 else { continue }
            try target.run("SELECT setval(pg_get_serial_sequence(?, ?), ?)", [.text(table.name), .text(column), .integer(last)])
        }
    }

    /// A SQLite value as PostgreSQL's column type holds it.
    /// - Throws: for a value of a type the column cannot take, naming the table and column.
    static func convert(_ value: SQLValue, to column: Column, of table: String) throws -> SQLValue {
        switch (value, column.type) {
        case (.null, _): return .null
        case (.integer, "bigint"), (.real, "double precision"), (.text, "text"), (.blob, "bytea"): return value
        case (.integer(let integer), "double precision"): return .real(Double(integer))
        case (.real(let real), "bigint"):
            if let integer = Int64(exactly: real) { return .integer(integer) }
        case (.text(let text), "bigint"):
            if let integer = Int64(text) { return .integer(integer) }
        case (.integer(let integer), "text"): return .text(String(integer))
        case (.text(let text), "bytea"): return .blob(Array(text.utf8))
        default: break
        }
        throw refused("\(table).\(column.name) holds a value a \(column.type) column cannot take")
    }

    /// The rows of every table and each tenant's last seq, on both sides.
    static func compare(_ tables: [String], source: any SQLConnection, target: PostgresSQLConnection) throws -> Report {
        var rows: [(table: String, source: Int64, target: Int64)] = []
        for table in tables {
            let sql = "SELECT count(*) FROM \(quoted(table))"
            rows.append((table, try source.queryFirst(sql) { $0.int64(0) } ?? 0, try target.queryFirst(sql) { $0.int64(0) } ?? 0))
        }
        let sourceSeqs = try lastSeqs(source)
        let targetSeqs = try lastSeqs(target)
        return Report(
            rows: rows,
            lastSeqs: Set(sourceSeqs.keys).union(targetSeqs.keys).sorted().map { ($0, sourceSeqs[$0] ?? -1, targetSeqs[$0] ?? -1) }
        )
    }

    /// Each tenant's last seq (`tenants.last_seq`); its newest event's seq is the same, or lower only
    /// where retention purged the newest events.
    static func lastSeqs(_ connection: any SQLConnection) throws -> [String: Int64] {
        let rows = try connection.query("SELECT id, last_seq FROM tenants") { ($0.text(0), $0.int64(1)) }
        return Dictionary(rows) { first, _ in first }
    }

    /// A name from one of the two schemas, quoted for SQL.
    static func quoted(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func refused(_ detail: String) -> SwitchboardError {
        SwitchboardError(kind: .invalidInput, code: "copy_refused", detail: detail)
    }
}
