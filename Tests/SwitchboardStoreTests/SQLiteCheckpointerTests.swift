import Foundation
import Logging
import SwitchboardTestSupport
import Testing

@testable import SwitchboardStore

/// Checkpoints run on the checkpointer's thread, not inside the writer's commits.
@Suite(.timeLimit(.minutes(5))) struct SQLiteCheckpointerTests {
    /// A writer connection over a fresh database with one table, reporting its WAL to a checkpointer
    /// of `pages` and `limit`, stopped at once when `isRunning` is false.
    private static func make(
        pages: Int,
        limit: Int,
        isRunning: Bool
    ) throws -> (path: String, writer: SQLiteConnection, checkpointer: SQLiteCheckpointer) {
        let path = SQLiteStoreTests.temporaryPath()
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let writer = try SQLiteConnection(path: path, isReadOnly: false, synchronous: "NORMAL")
        try writer.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, body BLOB)")
        let checkpointer = SQLiteCheckpointer(
            connection: try SQLiteConnection(path: path, isReadOnly: false, synchronous: "NORMAL"),
            pages: pages,
            limit: limit,
            logger: Logger(label: "test")
        )
        if !isRunning { checkpointer.stop() }
        writer.reportWALSize(to: checkpointer)
        return (path, writer, checkpointer)
    }

    /// Commits 1,500 rows of 3 KiB one by one: about 1,500 pages, past SQLite's own checkpoint at 1,000.
    private static func fill(_ writer: SQLiteConnection) throws {
        for index in 0..<1500 {
            try writer.run("INSERT INTO rows (id, body) VALUES (?, zeroblob(3072))", [.integer(Int64(index))])
        }
    }

    private static func databaseBytes(_ path: String) throws -> Int {
        try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
    }

    @Test func aCommitDoesNotCheckpointBelowTheWritersLimit() throws {
        let (path, writer, _) = try Self.make(pages: 10, limit: 1_000_000, isRunning: false)
        defer { writer.close() }
        let before = try Self.databaseBytes(path)
        try Self.fill(writer)
        #expect(try Self.databaseBytes(path) == before, "the rows stay in the WAL: no commit copied them")
    }

    @Test func theCheckpointerCopiesTheWALIntoTheDatabase() async throws {
        let (path, writer, checkpointer) = try Self.make(pages: 100, limit: 1_000_000, isRunning: true)
        defer {
            checkpointer.stop()
            writer.close()
        }
        try Self.fill(writer)
        try await eventually(limit: .seconds(5)) { try Self.databaseBytes(path) >= 1500 * 3072 }
    }

    @Test func pastItsLimitTheWriterCheckpointsItself() throws {
        let (path, writer, _) = try Self.make(pages: 10, limit: 200, isRunning: false)
        defer { writer.close() }
        try Self.fill(writer)
        #expect(try Self.databaseBytes(path) >= 1000 * 3072, "a WAL past the limit is copied after the commit")
    }
}
