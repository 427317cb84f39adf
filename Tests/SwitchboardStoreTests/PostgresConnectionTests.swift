import Foundation
import Logging
import SwitchboardCore
import SwitchboardTestSupport
import Testing

@testable import SwitchboardPostgres

/// What the PostgreSQL connection promises beyond the shared store tests: a queued statement's failure
/// is never lost, and a transaction PostgreSQL rolled back is never reported as committed.
@Suite(.timeLimit(.minutes(2))) struct PostgresConnectionTests {
    static func connect() throws -> PostgresSQLConnection {
        let url = try #require(try TestBackend.postgres.freshDatabase().url)
        return try PostgresSQLConnection(target: PostgresTarget(url: url), timeout: .seconds(5), eventLoop: PostgresEngine.eventLoops.next(), logger: Logger(label: "test"))
    }

    @Test func aQueuedStatementsFailureIsThrownByTheNextStatementThatWaits() throws {
        let connection = try Self.connect()
        defer { connection.close() }
        try connection.queue("SELECT 1 / 0")
        #expect {
            try connection.queryFirst("SELECT 1") { $0.int(0) }
        } throws: { ($0 as? PostgresFailure)?.sqlState == "22012" }
        // Reported once: the connection goes on.
        #expect(try connection.queryFirst("SELECT 2") { $0.int(0) } == 2)
    }

    @Test func aCommitOfAFailedTransactionThrows() throws {
        let connection = try Self.connect()
        defer { connection.close() }
        try connection.execute("CREATE TABLE kept (value BIGINT)")
        try connection.beginWrite()
        try connection.run("INSERT INTO kept (value) VALUES (1)", [])
        // A failure swallowed by its caller still leaves PostgreSQL's transaction aborted.
        _ = try? connection.run("SELECT 1 / 0", [])
        #expect(throws: PostgresFailure.self) { try connection.execute("COMMIT") }
        #expect(try connection.queryFirst("SELECT count(*) FROM kept") { $0.int(0) } == 0)
    }

    @Test func aReadConnectionWhoseQueuedCommitFailedIsNotReused() throws {
        let connection = try Self.connect()
        try connection.queue("SELECT 1 / 0")
        #expect(!connection.settleQueued())
        #expect(!connection.isUsable)
    }
}
