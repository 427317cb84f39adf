import Foundation
import Logging
import SwitchboardCore
@testable import SwitchboardStore
import SwitchboardTestSupport
import Synchronization
import Testing

@testable import SwitchboardPostgres

/// The PostgreSQL writer defers its inserts and sends each group's rows as few statements as it can;
/// a row that cannot be written makes it run the group again, one savepoint per job, so the job it
/// belongs to fails alone.
@Suite(.timeLimit(.minutes(2))) struct DeferredInsertTests {
    static func row(_ sql: String, _ values: [SQLValue], returned: ((SQLRow) throws -> Void)? = nil) throws -> DeferredInsert {
        DeferredInsert(statement: try #require(InsertStatement(sql)), bindings: values, returned: returned)
    }

    @Test func anInsertOfOneRowOfPlaceholdersIsSplitAndOthersAreNot() throws {
        let statement = try #require(InsertStatement("INSERT INTO events (a, b) VALUES (?, ?) RETURNING position, id"))
        #expect(statement.table == "events")
        #expect(statement.head == "INSERT INTO events (a, b) VALUES")
        #expect(statement.tail == " RETURNING position, id")
        #expect(statement.columns == 2)
        #expect(statement.returnsRows)
        let upsert = try #require(InsertStatement("INSERT INTO messages (a)\nVALUES (?)\nON CONFLICT (a) DO UPDATE SET a = excluded.a"))
        #expect(!upsert.returnsRows)
        #expect(InsertStatement("INSERT INTO t (a, b) VALUES (?, 1)") == nil)
        #expect(InsertStatement("INSERT INTO t (a) VALUES (?) ON CONFLICT (a) DO UPDATE SET b = ?") == nil)
        #expect(InsertStatement("UPDATE t SET a = ?") == nil)
    }

    @Test func rowsOfOneTextBecomeOneStatementAndTheOthersItsWithClauses() throws {
        let rows = [
            try Self.row("INSERT INTO messages (a, b) VALUES (?, ?)", [.text("m1"), .integer(1)]),
            try Self.row("INSERT INTO events (a) VALUES (?) RETURNING position", [.text("e1")], returned: { _ in }),
            try Self.row("INSERT INTO messages (a, b) VALUES (?, ?)", [.text("m2"), .integer(2)]),
            try Self.row("INSERT INTO events (a) VALUES (?) RETURNING position", [.text("e2")], returned: { _ in }),
        ]
        let statements = DeferredInsert.statements(of: rows)
        #expect(statements.count == 1)
        #expect(statements.first?.sql == "WITH d0 AS (INSERT INTO messages (a, b) VALUES ($1, $2), ($3, $4)) INSERT INTO events (a) VALUES ($5), ($6) RETURNING position")
        #expect(statements.first?.bindings == [.text("m1"), .integer(1), .text("m2"), .integer(2), .text("e1"), .text("e2")])
        #expect(statements.first?.returned.count == 2)
    }

    @Test func rowsBeyondOneStatementsValuesAreSentInSeveral() throws {
        let count = DeferredInsert.maxBindings / 2 + 1
        let rows = try (0..<count).map { try Self.row("INSERT INTO t (a, b) VALUES (?, ?)", [.integer(Int64($0)), .null]) }
        let statements = DeferredInsert.statements(of: rows)
        #expect(statements.map(\.bindings.count) == [DeferredInsert.maxBindings, 2])
        #expect(statements.last?.sql == "INSERT INTO t (a, b) VALUES ($1, $2)")
    }

    /// Two jobs in one group, the second's row refused by the table's key: the group runs again with a
    /// savepoint per job, the first commits and the second fails with the database's error.
    @Test func aRowThatCannotBeWrittenFailsItsJobAloneAfterTheGroupRunsAgain() async throws {
        let url = try #require(try TestBackend.postgres.freshDatabase().url)
        let target = try PostgresTarget(url: url)
        let logger = Logger(label: "test")
        let connect = { try PostgresSQLConnection(target: target, timeout: .seconds(5), eventLoop: PostgresEngine.eventLoops.next(), logger: logger) }
        let setup = try connect()
        try setup.execute("CREATE TABLE kept (id TEXT PRIMARY KEY, note TEXT)")
        setup.close()
        let writer = SQLWriter(
            connection: nil,
            open: connect,
            threadName: "test-writer",
            maxBatch: 64,
            hooks: .init(beforeCommit: { _ in }, afterCommit: { 1 }),
            observer: StoreObserverSlot(),
            logger: logger,
            onCommitted: { _ in }
        )
        defer { writer.stop() }
        // Queued at once behind a slow job, the three make one group whatever the writer was doing.
        let outcomes = Mutex<[String: String]>([:])
        writer.submit { try $0.run("SELECT pg_sleep(0.3)") }
        for (id, note) in [("a", "first"), ("a", "second"), ("b", "third")] {
            writer.submit { db in
                do {
                    try db.insert("INSERT INTO kept (id, note) VALUES (?, ?)", [.text(id), .text(note)], returned: nil)
                    outcomes.withLock { $0[note] = "ok" }
                } catch {
                    outcomes.withLock { $0[note] = (error as? PostgresFailure)?.isConstraintViolation == true ? "refused" : "\(error)" }
                    throw error
                }
            }
        }
        try await writer.write { _ in }
        #expect(outcomes.withLock { $0 } == ["first": "ok", "second": "refused", "third": "ok"])
        let check = try connect()
        defer { check.close() }
        #expect(try check.query("SELECT id, note FROM kept ORDER BY id") { "\($0.text(0))=\($0.text(1))" } == ["a=first", "b=third"])
    }
}
