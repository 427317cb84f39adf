import Foundation
import Logging
import SwitchboardCore

/// A database the shared store (`SQLStore`) runs on: how it reads, how its writer is made, its
/// maintenance, and how it closes. SQLite's engine is here; PostgreSQL's is in `SwitchboardPostgres`.
package protocol SQLEngine: Sendable {
    var dialect: SQLDialect { get }
    /// Whether this process is the database's only writer. Only then may the store keep copies that
    /// only its own commits change (the recent events).
    var isSoleWriter: Bool { get }
    /// Hands `onChange` what other processes' commits did, as soon as the engine hears of them, with the
    /// commit count the record caches must take as theirs. Called once, by the store.
    func observeOtherWriters(_ onChange: @escaping @Sendable (OtherCommit, UInt64) -> Void)
    /// Marks the write transaction on `db` as one that changes settings, so that other processes hear
    /// of it where no notification carries it (`SQLStore.writeSettings`). Runs on the writer thread.
    func markSettingsWrite(_ db: any SQLConnection) throws
    /// Where the database is, for logs: a path, or a host and port (never a password).
    var location: String { get }
    /// Runs `body` on a read connection, in a transaction that began after the last commit this
    /// process made.
    func read<Result: Sendable>(_ body: @escaping @Sendable (any SQLConnection, ReadSnapshot) throws -> Result) async throws -> Result
    /// Starts the writer thread; called once, by the store.
    func makeWriter(observer: any StoreObserver, onCommitted: @escaping @Sendable (SQLWriter.Commit) -> Void) -> SQLWriter
    /// Gives the space of deleted rows back to the file system; returns the bytes given back.
    func reclaimSpace(writer: SQLWriter) async throws -> Int64
    /// The database's size and row counts.
    func figures() async throws -> DatabaseFigures
    /// Takes the lease `name` for this process if no other holds it (`Cluster.takeLease`).
    func takeLease(_ name: String) async throws -> (any Lease)?
    /// Finishes the writer's queued jobs and closes every connection.
    func close(writer: SQLWriter)
}

/// When a read transaction began: after how many of this process's commits (counted before it began,
/// so it sees at least those), and at what time.
package struct ReadSnapshot: Sendable {
    package let commits: UInt64
    package let started: ContinuousClock.Instant

    package init(commits: UInt64, started: ContinuousClock.Instant) {
        self.commits = commits
        self.started = started
    }

    /// How long a read transaction may be reused, and so how long a cached record read in it lives:
    /// the bound on how long a commit from another process stays unseen.
    package static let lifetime: Duration = .milliseconds(100)
}

/// What an engine heard of another process's commit.
package struct OtherCommit: Sendable, Equatable {
    /// The cached records it saved; nil when any may have changed (every copy is dropped).
    package let records: [ChangedRecord]?
    /// How many events it appended.
    package let events: Int

    package init(records: [ChangedRecord]?, events: Int) {
        self.records = records
        self.events = events
    }

    /// Commits may have been missed (listening began or broke): anything may have changed, and the
    /// log's readers must look for events.
    package static let missed = OtherCommit(records: nil, events: 1)
}
