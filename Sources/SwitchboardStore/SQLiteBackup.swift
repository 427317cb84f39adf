#if canImport(Glibc)
import Glibc
#endif
import CSQLite
import Foundation

/// Online backups and restores of the SQLite database.
///
/// A backup is `VACUUM INTO` on a read connection of its own: one read transaction, so the copy is
/// the database as of one commit and writers go on meanwhile (WAL mode); the copy is compact and has
/// no WAL. A restore refuses a database a server has open (`SQLiteDatabaseLock`) and a copy that fails
/// `PRAGMA integrity_check` or is of a newer schema than this build knows.
public enum SQLiteBackup {
    /// Writes a consistent copy of the database at `database` to `file`, which must not exist.
    /// - Throws: `SQLiteError` when the database cannot be read or the copy written.
    public static func backup(database: String, to file: String) throws {
        guard FileManager.default.fileExists(atPath: database) else { throw SQLiteError(code: SQLITE_CANTOPEN, message: "no database at \(database)") }
        let connection = try SQLiteConnection(path: database, isReadOnly: true, synchronous: "FULL")
        defer { connection.close() }
        _ = try connection.run("VACUUM INTO ?", [.text(file)])
        _ = chmod(file, 0o600)
    }

    /// Checks a copy: it opens, passes `PRAGMA integrity_check` and is of a schema this build knows.
    /// - Returns: its schema version.
    /// - Throws: `SQLiteError` saying what is wrong.
    @discardableResult
    public static func check(_ file: String) throws -> Int {
        guard FileManager.default.fileExists(atPath: file) else { throw SQLiteError(code: SQLITE_CANTOPEN, message: "no database at \(file)") }
        let connection = try SQLiteConnection(path: file, isReadOnly: true, synchronous: "FULL")
        defer { connection.close() }
        let verdict = try connection.query("PRAGMA integrity_check") { $0.text(0) }
        guard verdict == ["ok"] else {
            throw SQLiteError(code: SQLITE_CORRUPT, message: "the copy fails its integrity check: \(verdict.prefix(3).joined(separator: "; "))")
        }
        let version = try connection.queryFirst("PRAGMA user_version") { $0.int(0) } ?? 0
        guard version <= Migrations.latestVersion else {
            throw SQLiteError(code: SQLITE_MISMATCH, message: "the copy is at schema version \(version); this build knows up to \(Migrations.latestVersion)")
        }
        return version
    }

    /// Puts the checked copy `file` in place of the database at `database`.
    /// - Parameter replacing: whether an existing database may be replaced (it is kept beside, renamed).
    /// - Throws: `SQLiteError` when a server has the database open, when it exists and `replacing` is
    ///   false, or when the copy fails `check`.
    public static func restore(from file: String, to database: String, replacing: Bool) throws {
        try check(file)
        let lock = try SQLiteDatabaseLock(database: database, exclusive: true)
        defer { lock.release() }
        let manager = FileManager.default
        if manager.fileExists(atPath: database), !replacing {
            throw SQLiteError(code: SQLITE_CANTOPEN, message: "a database exists at \(database); pass --force to replace it (it is kept, renamed)")
        }
        // The copy is staged and synced first; then the old files are moved aside, a WAL or shared
        // memory file included even without a database beside it (SQLite would replay a stale WAL onto
        // the copy); then the copy is renamed into place, so a crash leaves either state, never neither.
        let staging = database + ".restoring"
        try? manager.removeItem(atPath: staging)
        try manager.copyItem(atPath: file, toPath: staging)
        _ = chmod(staging, 0o600)
        try sync(staging)
        let kept = database + ".before-restore-\(Int(Date().timeIntervalSince1970))"
        for suffix in ["-wal", "-shm", ""] where manager.fileExists(atPath: database + suffix) {
            try manager.moveItem(atPath: database + suffix, toPath: kept + suffix)
        }
        guard rename(staging, database) == 0 else { throw SQLiteError(code: SQLITE_CANTOPEN, message: "cannot move the copy into place at \(database)") }
        try sync((database as NSString).deletingLastPathComponent)
    }
}

/// Flushes a file or folder to the disk.
func sync(_ path: String) throws {
    let descriptor = open(path.isEmpty ? "." : path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { throw SQLiteError(code: SQLITE_CANTOPEN, message: "cannot open \(path)") }
    defer { close(descriptor) }
    guard fsync(descriptor) == 0 else { throw SQLiteError(code: SQLITE_IOERR, message: "cannot sync \(path)") }
}

/// An advisory lock on `<database>.lock`: every open store holds it shared for as long as it is open
/// (a server, a CLI command beside it), and a restore takes it exclusively, so it cannot replace a
/// database that is in use.
final class SQLiteDatabaseLock: Sendable {
    private let descriptor: Int32

    /// - Throws: `SQLiteError` (`SQLITE_BUSY`) when the lock cannot be had now.
    init(database: String, exclusive: Bool) throws {
        let path = database + ".lock"
        let directory = (database as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory.isEmpty ? "." : directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw SQLiteError(code: SQLITE_CANTOPEN, message: "cannot open \(path)") }
        guard flock(descriptor, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0 else {
            close(descriptor)
            throw SQLiteError(
                code: SQLITE_BUSY,
                message: exclusive ? "a server has the database \(database) open; stop it first" : "the database \(database) is being restored"
            )
        }
    }

    /// Releases the lock.
    func release() {
        close(descriptor)
    }
}
