import Foundation
import Logging
import SwitchboardCore
import Synchronization
import Testing

@testable import SwitchboardStore

@Suite(.timeLimit(.minutes(5))) struct SQLiteStoreTests {
    static func makeStore(path: String = temporaryPath()) throws -> SQLStore {
        try SQLStore(sqlite: .init(path: path), logger: Logger(label: "test"))
    }

    static func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-store-\(UUID().uuidString)/db.sqlite").path
    }

    @Test func theWriterThreadCarriesItsNameForTheKernel() async throws {
        let store = try Self.makeStore()
        defer { store.close() }
        _ = try await store.createTenant(name: "T")
        let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")
        let names = tasks.compactMap { try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8) }
        #expect(names.contains("sqlite-writer\n"))
    }

    @Test func aReadAfterACommitSeesItThoughTheConnectionKeepsItsSnapshot() async throws {
        // One read connection, so that every read reuses the transaction the one before it left open.
        let store = try SQLStore(sqlite: .init(path: Self.temporaryPath(), readers: 1), logger: Logger(label: "test"))
        defer { store.close() }
        let readers = try #require(store.engine as? SQLiteEngine).readers
        let tenant = try await store.createTenant(name: "T")
        for count in 1...5 {
            // Idle during the commit: the writer ends its transaction before COMMIT.
            _ = try await store.agents(tenant: tenant.id, status: nil, page: PageRequest(limit: 100))
            _ = try await store.execute(.createAgent(NewAgent(name: "Idle \(count)")), tenant: tenant.id, idempotency: nil)
            #expect(try await store.agents(tenant: tenant.id, status: nil, page: PageRequest(limit: 100)).items.count == 2 * count - 1)
            // Busy during the commit: it goes back to the pool with its old snapshot, renewed at the next read.
            // The read holds its connection on a thread of its own, so that no thread of the shared
            // cooperative pool blocks (other tests run on it).
            let reading = Flag(), released = Flag(), done = Flag()
            Thread {
                _ = try? readers.read { connection in
                    _ = try connection.query("SELECT id FROM agents", []) { $0.text(0) }
                    reading.set()
                    while !released.isSet { usleep(1_000) }
                }
                done.set()
            }.start()
            while !reading.isSet { try await Task.sleep(for: .milliseconds(1)) }
            _ = try await store.execute(.createAgent(NewAgent(name: "Busy \(count)")), tenant: tenant.id, idempotency: nil)
            released.set()
            while !done.isSet { try await Task.sleep(for: .milliseconds(1)) }
            #expect(try await store.agents(tenant: tenant.id, status: nil, page: PageRequest(limit: 100)).items.count == 2 * count)
        }
    }

    @Test func aCommitFromAnotherProcessIsSeenWithinTheSnapshotLifetime() async throws {
        let path = Self.temporaryPath()
        let store = try SQLStore(sqlite: .init(path: path, readers: 1), logger: Logger(label: "test"))
        defer { store.close() }
        #expect(try await store.tenants().isEmpty)
        // Another store on the same file stands for the CLI: this store's pool hears of none of its commits.
        let other = try Self.makeStore(path: path)
        defer { other.close() }
        let tenant = try await other.createTenant(name: "From the CLI")
        try await Task.sleep(for: ReadSnapshot.lifetime + .milliseconds(20))
        #expect(try await store.tenants().map(\.id) == [tenant.id])
    }

    /// The settings watcher signals another process's settings change (`switchboard keys create` on the
    /// server's file) and not this store's own: its own changes invalidate caches where they are made.
    @Test func aSettingsChangeOfAnotherProcessIsSignalledAndAnOwnOneIsNot() async throws {
        let path = Self.temporaryPath()
        let store = try Self.makeStore(path: path)
        defer { store.close() }
        let other = try Self.makeStore(path: path)
        defer { other.close() }
        let before = store.settingsChanged.generation
        let tenant = try await store.createTenant(name: "Own")
        _ = try await other.createAPIKey(tenant: tenant.id, settings: APIKeySettings(name: "From the CLI"))
        let clock = ContinuousClock()
        #expect(await store.settingsChanged.wait(after: before, until: clock.now + .seconds(30), clock: clock))
        // The own change and the other's, seen in one read or in two, make one signal.
        #expect(store.settingsChanged.generation == before + 1)
    }

    @Test func aCachedAgentIsNeverOlderThanTheLastCommit() async throws {
        let store = try Self.makeStore()
        defer { store.close() }
        let tenant = try await store.createTenant(name: "T")
        guard case .applied(let created) = try await store.execute(.createAgent(NewAgent(name: "A")), tenant: tenant.id, idempotency: nil),
            case .agent(let agent) = created.resource
        else { Issue.record("no agent"); return }
        // Readers of their own keep the cache filled while the writer changes the agent.
        let stop = Flag()
        let readers = (0..<2).map { _ in
            Task {
                while !stop.isSet {
                    _ = try? await store.agent(id: agent.id, tenant: tenant.id)
                    // A read from the cache never suspends: without this, two readers hold both threads
                    // of a two-core machine's cooperative pool, and the writes never resume.
                    await Task.yield()
                }
            }
        }
        for round in 1...200 {
            let status: Agent.Status = round.isMultiple(of: 2) ? .online : .away
            _ = try await store.execute(.updateAgent(id: agent.id, AgentChanges(status: status), expectedVersion: nil), tenant: tenant.id, idempotency: nil)
            let read = try #require(try await store.agent(id: agent.id, tenant: tenant.id))
            #expect(read.version == agent.version + Int64(round) && read.status == status, "round \(round)")
        }
        stop.set()
        for reader in readers { await reader.value }
        #expect(try await store.agent(id: agent.id, tenant: "another tenant") == nil)
    }

    @Test func aRecordReadBeforeACommitThatChangedRecordsIsNotCached() {
        let cache = RecordCache<Int>()
        let key = RecordKey(tenant: "t", id: "a")
        let before = ReadSnapshot(commits: 4, started: .now)
        cache.invalidate([RecordKey(tenant: "t", id: "b")], commits: 5)
        cache.insert(1, for: key, readIn: before)
        #expect(cache.record(key) == nil)
        let after = ReadSnapshot(commits: 5, started: .now)
        cache.insert(2, for: key, readIn: after)
        #expect(cache.record(key) == 2)
        cache.invalidate([key], commits: 6)
        #expect(cache.record(key) == nil)
        // An entry lives as long as the read transaction it came from could have.
        let old = ReadSnapshot(commits: 6, started: .now - ReadSnapshot.lifetime)
        cache.insert(3, for: key, readIn: old)
        #expect(cache.record(key) == nil)
    }

    @Test func anAgentChangedByAnotherProcessIsSeenWithinTheSnapshotLifetime() async throws {
        let path = Self.temporaryPath()
        let store = try Self.makeStore(path: path)
        defer { store.close() }
        let tenant = try await store.createTenant(name: "T")
        guard case .applied(let created) = try await store.execute(.createAgent(NewAgent(name: "A")), tenant: tenant.id, idempotency: nil),
            case .agent(let agent) = created.resource
        else { Issue.record("no agent"); return }
        #expect(try await store.agent(id: agent.id, tenant: tenant.id)?.name == "A")
        let other = try Self.makeStore(path: path)
        defer { other.close() }
        _ = try await other.execute(.updateAgent(id: agent.id, AgentChanges(name: "B"), expectedVersion: nil), tenant: tenant.id, idempotency: nil)
        try await Task.sleep(for: ReadSnapshot.lifetime + .milliseconds(20))
        #expect(try await store.agent(id: agent.id, tenant: tenant.id)?.name == "B")
    }

    @Test func theWALStaysBoundedWhileReadersRunAlongsideTheWriter() async throws {
        let path = Self.temporaryPath()
        let store = try SQLStore(sqlite: .init(path: path, synchronous: .normal), logger: Logger(label: "test"))
        defer { store.close() }
        let tenant = try await store.createTenant(name: "T")
        let writing = Flag(true)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<2 {
                group.addTask {
                    var reads = 0
                    while writing.isSet, reads < 1_000_000 {
                        _ = try await store.agents(tenant: tenant.id, status: nil, page: PageRequest(limit: 1))
                        reads += 1
                        // A SQLite read does not suspend: let the writing task have a thread.
                        await Task.yield()
                    }
                }
            }
            // One commit each: 3,000 commits write far more pages than the 1,000 after which the WAL restarts.
            for index in 0..<3_000 {
                _ = try await store.execute(.createAgent(NewAgent(name: "A\(index)")), tenant: tenant.id, idempotency: nil)
            }
            writing.clear()
            try await group.waitForAll()
        }
        let walBytes = try FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int ?? 0
        #expect(walBytes < 16 << 20)
    }

    @Test func eventsServedFromMemoryMatchTheDatabaseWhenJobsRollBack() async throws {
        let store = try Self.makeStore()
        defer { store.close() }
        let tenants = [try await store.createTenant(name: "T"), try await store.createTenant(name: "U")]
        let ids = store.ids
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<300 {
                let tenant = tenants[index / 3 % 2].id
                group.addTask {
                    guard index.isMultiple(of: 3) else {
                        _ = try await store.execute(.createAgent(NewAgent(name: "A\(index)")), tenant: tenant, idempotency: nil)
                        return
                    }
                    // Appends events, then fails: its savepoint rolls back inside a group commit.
                    await #expect(throws: CancellationError.self) {
                        try await store.write { db in
                            try ChatTransaction(db: db, tenant: tenant, now: Date(), ids: ids).append([
                                DomainEvent(type: .agentCreated, data: .null), DomainEvent(type: .agentCreated, data: .null),
                            ])
                            throw CancellationError()
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let stored = try await store.storedEvents(afterPosition: 0, limit: 1_000)
        #expect(stored.count == 200)
        #expect(stored.allSatisfy { $0.data != .null })
        for tenant in tenants {
            #expect(stored.filter { $0.tenantID == tenant.id }.map(\.seq) == Array(1...100))
            #expect(try await store.lastSeq(tenant: tenant.id) == 100)
        }
        #expect(store.recentEvents?.events(after: 0, limit: 1_000) == stored)
        #expect(try await store.events(afterPosition: stored[99].position, limit: 50) == Array(stored[100..<150]))
    }

    @Test func recentEventsAnswerOnlyAboveTheirFloor() {
        let recent = RecentEvents(floor: 10, capacity: 4)
        #expect(recent.events(after: 9, limit: 10) == nil)
        #expect(recent.events(after: 10, limit: 10) == [])
        recent.append([Self.entry(11), Self.entry(12)])
        #expect(recent.events(after: 10, limit: 10)?.map(\.position) == [11, 12])
        #expect(recent.events(after: 11, limit: 10)?.map(\.position) == [12])
        #expect(recent.events(after: 12, limit: 10) == [])
        // Position 13 was written elsewhere: only events after it come from memory.
        recent.append([Self.entry(14)])
        #expect(recent.events(after: 12, limit: 10) == nil)
        #expect(recent.events(after: 13, limit: 10)?.map(\.position) == [14])
        // Past the capacity, the oldest go and the floor follows.
        recent.append((15...18).map { Self.entry($0) })
        #expect(recent.events(after: 13, limit: 10) == nil)
        #expect(recent.events(after: 14, limit: 10)?.map(\.position) == [15, 16, 17, 18])
        #expect(recent.events(after: 15, limit: 2)?.map(\.position) == [16, 17])
    }

    @Test func recentEventsKeepToTheirDataBudget() {
        let recent = RecentEvents(floor: 0, capacity: 100, maxDataBytes: 1_000)
        recent.append((1...4).map { Self.entry($0, dataBytes: 300) })
        #expect(recent.events(after: 0, limit: 10) == nil)
        #expect(recent.events(after: 1, limit: 10)?.map(\.position) == [2, 3, 4])
        // One event over the whole budget is not kept either.
        recent.append([Self.entry(5, dataBytes: 5_000)])
        #expect(recent.events(after: 4, limit: 10) == nil)
        #expect(recent.events(after: 5, limit: 10) == [])
        recent.append([Self.entry(6)])
        #expect(recent.events(after: 5, limit: 10)?.map(\.position) == [6])
    }

    static func entry(_ position: Int64, dataBytes: Int = 10) -> RecentEvents.Entry {
        let event = Event(id: "e\(position)", type: .agentCreated, tenantID: "t", seq: position, timestamp: 0, data: .null, position: position)
        return RecentEvents.Entry(event: event, dataBytes: dataBytes)
    }
}

/// A flag set until cleared, shared between test tasks.
private final class Flag: Sendable {
    private let value: Atomic<Bool>

    init(_ isSet: Bool = false) {
        value = Atomic(isSet)
    }

    var isSet: Bool { value.load(ordering: .acquiring) }

    func set() { value.store(true, ordering: .releasing) }

    func clear() { value.store(false, ordering: .releasing) }
}
