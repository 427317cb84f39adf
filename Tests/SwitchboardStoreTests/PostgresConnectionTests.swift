import Foundation
import Logging
import SwitchboardCore
@testable import SwitchboardStore
import SwitchboardTestSupport
import Synchronization
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

/// Other servers' commits reach this one's log readers and record caches as notifications.
@Suite(.timeLimit(.minutes(2))) struct CommitListenerTests {
    /// The handler's calls, in order.
    final class Heard: Sendable {
        let calls = Mutex<[OtherCommit]>([])
        func record(_ commit: OtherCommit) { calls.withLock { $0.append(commit) } }
        var count: Int { calls.withLock { $0.count } }
    }

    @Test func aCommittedWriteIsHeardByTheOtherServersNotByItsOwnAndARolledBackOneByNone() async throws {
        let url = try #require(try TestBackend.postgres.freshDatabase().url)
        let target = try PostgresTarget(url: url)
        let logger = Logger(label: "test")
        let writer = try PostgresSQLConnection(target: target, timeout: .seconds(5), eventLoop: PostgresEngine.eventLoops.next(), logger: logger)
        defer { writer.close() }
        let mine = CommitListener(target: target, timeout: .seconds(5), eventLoop: PostgresEngine.eventLoops.next(), logger: logger)
        let other = CommitListener(target: target, timeout: .seconds(5), eventLoop: PostgresEngine.eventLoops.next(), logger: logger)
        defer {
            mine.close()
            other.close()
        }
        let heardByMine = Heard()
        let heardByOther = Heard()
        mine.start(heardByMine.record)
        other.start(heardByOther.record)
        // Listening began: both are told they may have missed something.
        try await eventually { heardByMine.count == 1 && heardByOther.count == 1 }
        #expect(heardByOther.calls.withLock { $0 } == [.missed])

        let agent = ChangedRecord.agent(RecordKey(tenant: "t 1", id: #"a "quoted" id"#))
        try writer.beginWrite()
        try mine.notify(events: 1, records: [agent, .conversation(RecordKey(tenant: "t 1", id: "c"))], on: writer)
        try writer.execute("ROLLBACK")
        try writer.beginWrite()
        try mine.notify(events: 0, records: [], on: writer)
        try mine.notify(events: 3, records: [agent], on: writer)
        try writer.execute("COMMIT")
        try await eventually { heardByOther.count == 2 }
        #expect(heardByOther.calls.withLock { $0.last } == OtherCommit(records: [agent], events: 3), "the rolled-back transaction's notification never arrives")
        // A commit that only appended events wakes the log's readers and drops no copy.
        try writer.beginWrite()
        try mine.notify(events: 2, records: [], on: writer)
        try writer.execute("COMMIT")
        try await eventually { heardByOther.count == 3 }
        #expect(heardByOther.calls.withLock { $0.last } == OtherCommit(records: [], events: 2))

        // "*" drops every copy; a notification of another shape (any role may notify) counts as missed ones.
        try writer.run("SELECT pg_notify(?, ?)", [.text(CommitListener.channel), .text("stranger 0 *")])
        try await eventually { heardByOther.count == 4 }
        #expect(heardByOther.calls.withLock { $0.last } == OtherCommit(records: nil, events: 0))
        try writer.run("SELECT pg_notify(?, ?)", [.text(CommitListener.channel), .text("stranger [[1]]")])
        try await eventually { heardByOther.count == 5 }
        #expect(heardByOther.calls.withLock { $0.last } == .missed)
        // Notifications arrive in commit order: once the last stranger's is heard, its own would have been.
        try await eventually { heardByMine.calls.withLock { $0.last } == .missed && heardByMine.count >= 3 }
        #expect(heardByMine.count == 3, "its own commits are not heard; the strangers' are")
    }
}
