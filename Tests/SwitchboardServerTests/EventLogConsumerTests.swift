import Logging
import ServiceLifecycle
import SwitchboardTestSupport
import Synchronization
import SwitchboardCore
import SwitchboardServer
import SwitchboardStore
import Testing

@Suite(.timeLimit(.minutes(5))) struct EventLogConsumerTests {
    /// Collects what a consumer was handed, failing the first `failures` batches.
    final class Recorder: Sendable {
        private let state: Mutex<(events: [Event], failures: Int)>
        init(failures: Int = 0) { state = Mutex(([], failures)) }
        var events: [Event] { state.withLock { $0.events } }

        func handle(_ batch: [Event]) throws {
            try state.withLock { state in
                if state.failures > 0 {
                    state.failures -= 1
                    throw SwitchboardError(kind: .unavailable, code: "down", detail: "down")
                }
                state.events += batch
            }
        }
    }

    func waitFor(_ count: Int, in recorder: Recorder) async throws {
        // A bound for a stuck consumer, not a speed: the PostgreSQL route suites share two cores.
        try await eventually(limit: .seconds(60)) { recorder.events.count >= count }
    }

    /// Creates `count` agents in tenant A, one commit each.
    func addAgents(to server: TestServer, _ count: Int) async throws {
        for index in 0..<count {
            _ = try await server.store.execute(.createAgent(NewAgent(name: "A\(index)")), tenant: server.tenantA.tenantID, idempotency: nil)
        }
    }

    func runConsumer(_ store: any EventLog, _ recorder: Recorder, until count: Int) async throws {
        let consumer = EventLogConsumer(name: "test", log: store, batchSize: 7, retryDelay: .milliseconds(5), logger: Logger(label: "test")) {
            try recorder.handle($0)
        }
        let group = ServiceGroup(services: [consumer], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await waitFor(count, in: recorder)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test func consumerSeesEveryEventInOrderRetriesFailuresAndResumesFromItsCursor() async throws {
        let server = try await TestServer.make()
        let store = server.store
        defer { store.close() }
        for index in 0..<20 {
            let tenant = index.isMultiple(of: 2) ? server.tenantA.tenantID : server.tenantB.tenantID
            _ = try await store.execute(.createAgent(NewAgent(name: "A\(index)")), tenant: tenant, idempotency: nil)
        }
        let first = Recorder(failures: 2)
        try await runConsumer(store, first, until: 20)
        #expect(first.events.map(\.position) == Array(1...20))
        #expect(try await store.cursor(consumer: "test") == 20)

        for index in 0..<5 {
            _ = try await store.execute(.createAgent(NewAgent(name: "B\(index)")), tenant: server.tenantA.tenantID, idempotency: nil)
        }
        let second = Recorder()
        try await runConsumer(store, second, until: 5)
        #expect(second.events.map(\.position) == Array(21...25))
        #expect(second.events.map(\.seq) == Array(11...15))
    }

    @Test func consumerWakesOnCommit() async throws {
        let server = try await TestServer.make()
        let store = server.store
        defer { store.close() }
        let recorder = Recorder()
        let log = WatchedLog(store)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await runConsumer(log, recorder, until: 3) }
            // The consumer found the log empty: what follows wakes it.
            try await eventually { log.emptyReads >= 1 }
            for index in 0..<3 {
                _ = try await store.execute(.createAgent(NewAgent(name: "Live\(index)")), tenant: server.tenantA.tenantID, idempotency: nil)
            }
            try await tasks.waitForAll()
        }
        #expect(recorder.events.map(\.type) == [.agentCreated, .agentCreated, .agentCreated])
    }

    @Test func aLazyConsumerSavesItsCursorWhenTheLogIsQuietAndWhenItStops() async throws {
        let server = try await TestServer.make()
        let store = server.store
        defer { store.close() }
        try await addAgents(to: server, 20)
        let recorder = Recorder()
        let consumer = EventLogConsumer(name: "lazy", log: store, batchSize: 7, cursorSaving: .atMostEvery(.seconds(2)), logger: Logger(label: "test")) {
            try recorder.handle($0)
        }
        let group = ServiceGroup(services: [consumer], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await waitFor(20, in: recorder)
            #expect(try await store.cursor(consumer: "lazy") == 0, "three batches, no write for each")
            // Saved once the log was quiet for the interval.
            try await eventually(limit: .seconds(4)) { try await store.cursor(consumer: "lazy") == 20 }
            try await addAgents(to: server, 5)
            try await waitFor(25, in: recorder)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(try await store.cursor(consumer: "lazy") == 25, "saved when the consumer stopped")
        #expect(recorder.events.map(\.position) == Array(1...25))
    }

    /// The store's log, counting the reads of `events(afterPosition:)` that found nothing: after one, a
    /// consumer waits for a commit, and a commit from then on is one it waits for.
    final class WatchedLog: EventLog {
        let store: SQLStore
        private let emptyReadCount = Mutex(0)
        init(_ store: SQLStore) { self.store = store }
        var emptyReads: Int { emptyReadCount.withLock { $0 } }

        func events(afterPosition position: Int64, limit: Int) async throws -> [Event] {
            let events = try await store.events(afterPosition: position, limit: limit)
            if events.isEmpty { emptyReadCount.withLock { $0 += 1 } }
            return events
        }
        func events(tenant: String, after seq: Int64, limit: Int) async throws -> [Event] { try await store.events(tenant: tenant, after: seq, limit: limit) }
        func firstRetainedSeq(tenant: String) async throws -> Int64 { try await store.firstRetainedSeq(tenant: tenant) }
        func lastSeq(tenant: String) async throws -> Int64 { try await store.lastSeq(tenant: tenant) }
        func lastPosition() async throws -> Int64 { try await store.lastPosition() }
        func cursor(consumer: String) async throws -> Int64 { try await store.cursor(consumer: consumer) }
        func cursors() async throws -> [String: Int64] { try await store.cursors() }
        func saveCursor(consumer: String, position: Int64) async throws { try await store.saveCursor(consumer: consumer, position: position) }
        func importEvents(_ events: [(event: DomainEvent, timestamp: Int64)], tenant: String) async throws {
            try await store.importEvents(events, tenant: tenant)
        }
        var commits: CommitSignal { store.commits }
    }

    @Test func aLingeringConsumerReadsAsSoonAsAFullBatchWaits() async throws {
        let server = try await TestServer.make()
        let store = server.store
        defer { store.close() }
        let log = WatchedLog(store)
        let recorder = Recorder()
        let consumer = EventLogConsumer(name: "linger", log: log, batchSize: 4, linger: .seconds(600), logger: Logger(label: "test")) {
            try recorder.handle($0)
        }
        let group = ServiceGroup(services: [consumer], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await eventually { log.emptyReads == 1 }
            try await addAgents(to: server, 3)
            try await Task.sleep(for: .milliseconds(300))
            #expect(recorder.events.isEmpty, "three events are less than a batch: the consumer lingers")
            try await addAgents(to: server, 1)
            try await waitFor(4, in: recorder)
            #expect(recorder.events.map(\.position) == Array(1...4), "the fourth event fills the batch")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }
}
