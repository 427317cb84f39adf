import CSQLite
import Foundation

/// A SQLite database opened to be copied elsewhere (`switchboard db copy`): read-only, of this build's
/// schema version, and locked so that no server opens it while the copy runs (a server still writing
/// would add rows the copy misses).
package final class SQLiteSource {
    package let connection: any SQLConnection
    private let lock: SQLiteDatabaseLock

    /// - Throws: `SQLiteError` when there is no database at `path`, a server has it open, or its schema
    ///   is not this build's (an older one is migrated by any command that opens it: `switchboard migrate`).
    package init(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw SQLiteError(code: SQLITE_CANTOPEN, message: "no database at \(path)") }
        lock = try SQLiteDatabaseLock(database: path, exclusive: true)
        do {
            let connection = try SQLiteConnection(path: path, isReadOnly: true, synchronous: "FULL")
            // The file is read, not trusted: no schema-defined functions run, and it must be intact.
            try connection.execute("PRAGMA trusted_schema = OFF")
            let verdict = try connection.query("PRAGMA quick_check") { $0.text(0) }
            guard verdict == ["ok"] else {
                throw SQLiteError(code: SQLITE_CORRUPT, message: "the database \(path) fails its check: \(verdict.prefix(3).joined(separator: "; "))")
            }
            let version = try Migrations.checkVersion(on: connection)
            guard version == Migrations.latestVersion else {
                throw SQLiteError(
                    code: SQLITE_MISMATCH,
                    message: "the database \(path) is at schema version \(version), this build's is \(Migrations.latestVersion): run 'switchboard migrate' on it first"
                )
            }
            self.connection = connection
        } catch {
            lock.release()
            throw error
        }
    }

    /// The tables of the schema (SQLite's own excepted), with whether each has a rowid.
    package func tables() throws -> [(name: String, hasRowID: Bool)] {
        try connection.query("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name") { row in
            (row.text(0), !row.text(1).uppercased().contains("WITHOUT ROWID"))
        }
    }

    /// The columns of `table`, in their order.
    package func columns(of table: String) throws -> [String] {
        try connection.query("SELECT name FROM pragma_table_info(?) ORDER BY cid", [.text(table)]) { $0.text(0) }
    }

    /// The columns of `table`'s primary key, in key order.
    package func primaryKey(of table: String) throws -> [String] {
        try connection.query("SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk", [.text(table)]) { $0.text(0) }
    }

    /// The largest value SQLite's AUTOINCREMENT handed out in `table`, which may be above the largest
    /// still stored when the newest rows were deleted.
    package func lastAutoincrement(of table: String) throws -> Int64 {
        try connection.queryFirst("SELECT seq FROM sqlite_sequence WHERE name = ?", [.text(table)]) { $0.int64(0) } ?? 0
    }

    /// Releases the database.
    package func close() {
        connection.close()
        lock.release()
    }
}
