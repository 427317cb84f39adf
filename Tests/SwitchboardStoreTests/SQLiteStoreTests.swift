import Foundation
import Logging
import SwitchboardCore
import Synchronization
import Testing

@testable import SwitchboardStore

@Suite(.timeLimit(.minutes(5))) struct SQLiteStoreTests {
    static func makeStore(path: String = temporaryPath()) throws -> SQLiteStore {
        try SQLiteStore(configuration: .init(path: path), logger: Logger(label: "test"))
    }

    static func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-store-\(UUID().uuidString)/db.sqlite").path
    }

    @Test func dataSurvivesARestart() async throws {
        let path = Self.temporaryPath()
        let store = try Self.makeStore(path: path)
        let tenant = try await store.createTenant(name: "T")
        let outcome = try await store.execute(.createAgent(NewAgent(name: "Kept")), tenant: tenant.id, idempotency: nil)
        guard case .applied(let result) = outcome, case .agent(let agent) = result.resource else {
            Issue.record("unexpected outcome")
            return
        }
        store.close()

        let reopened = try Self.makeStore(path: path)
        defer { reopened.close() }
        #expect(try reopened.agent(id: agent.id, tenant: tenant.id) == agent)
        #expect(try reopened.events(tenant: tenant.id, after: 0, limit: 10).map(\.type) == [.agentCreated])
    }

    @Test func aFailingCommandLeavesNeitherRowNorEvent() async throws {
        let store = try Self.makeStore()
        defer { store.close() }
        let tenant = try await store.createTenant(name: "T")
        let visitor = try await store.execute(.createVisitor(NewVisitor(externalID: "v")), tenant: tenant.id, idempotency: nil)
        await #expect(throws: SwitchboardError.visitorExists) {
            try await store.execute(.createVisitor(NewVisitor(externalID: "v")), tenant: tenant.id, idempotency: nil)
        }
        let missing = NewConversation(visitorID: TimeOrderedIDGenerator.shared.make())
        await #expect(throws: SwitchboardError.self) {
            try await store.execute(.createConversation(missing), tenant: tenant.id, idempotency: nil)
        }
        #expect(try store.conversations(tenant: tenant.id, filter: .init(), page: .init()).items.isEmpty)
        #expect(try store.events(tenant: tenant.id, after: 0, limit: 10).isEmpty)
        guard case .applied(let result) = visitor, case .visitor(let created) = result.resource else {
            Issue.record("unexpected outcome")
            return
        }
        #expect(try store.visitor(id: created.id, tenant: tenant.id) == created)
    }

    @Test func concurrentCommandsShareGroupCommitsAndKeepSequencesGapFree() async throws {
        let store = try Self.makeStore()
        defer { store.close() }
        let tenants = [try await store.createTenant(name: "A"), try await store.createTenant(name: "B")]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<400 {
                group.addTask {
                    let tenant = tenants[index % 2].id
                    if index.isMultiple(of: 10) {
                        _ = try? await store.execute(.updateAgent(id: "missing", AgentChanges(name: "x"), expectedVersion: nil), tenant: tenant, idempotency: nil)
                    }
                    _ = try await store.execute(.createAgent(NewAgent(name: "A\(index)")), tenant: tenant, idempotency: nil)
                }
            }
            try await group.waitForAll()
        }
        for tenant in tenants {
            let events = try store.events(tenant: tenant.id, after: 0, limit: 1_000)
            #expect(events.map(\.seq) == Array(1...200))
        }
        let positions = try store.events(afterPosition: 0, limit: 1_000).map(\.position)
        #expect(positions == positions.sorted())
        #expect(positions.count == 400)
    }

    @Test func migrationsRunOnceAndReopenCleanly() async throws {
        let path = Self.temporaryPath()
        try Self.makeStore(path: path).close()
        let store = try Self.makeStore(path: path)
        defer { store.close() }
        #expect(try store.tenants().isEmpty)
        #expect(SQLiteStore.schemaVersion == 14)
    }

    @Test func aDatabaseOfANewerSchemaIsRefusedNamingBothVersions() throws {
        let path = Self.temporaryPath()
        try Self.makeStore(path: path).close()
        let connection = try SQLiteConnection(path: path, isReadOnly: false, synchronous: "FULL")
        try connection.execute("PRAGMA user_version = 99")
        connection.close()
        #expect {
            try Self.makeStore(path: path)
        } throws: { error in
            "\(error)".contains("schema version 99, not one this build knows (up to \(SQLiteStore.schemaVersion))")
        }
    }

    @Test func pluginValuesAreScopedAndCompareAndSet() async throws {
        let store = try Self.makeStore()
        defer { store.close() }
        let tenant = try await store.createTenant(name: "T").id
        let other = try await store.createTenant(name: "U").id
        let first = try await store.putPluginValue(tenant: tenant, plugin: "p", key: "k", bytes: [1], expected: .absent)
        #expect(first == 1)
        await #expect(throws: SwitchboardError.self) {
            try await store.putPluginValue(tenant: tenant, plugin: "p", key: "k", bytes: [2], expected: .absent)
        }
        await #expect(throws: SwitchboardError.self) {
            try await store.putPluginValue(tenant: tenant, plugin: "p", key: "k", bytes: [2], expected: .exactly(7))
        }
        #expect(try await store.putPluginValue(tenant: tenant, plugin: "p", key: "k", bytes: [2], expected: .exactly(1)) == 2)
        #expect(try await store.putPluginValue(tenant: tenant, plugin: "p", key: "k", bytes: [3], expected: .any) == 3)
        #expect(try store.pluginValue(tenant: tenant, plugin: "p", key: "k") == PluginValue(bytes: [3], version: 3))
        #expect(try store.pluginValue(tenant: other, plugin: "p", key: "k") == nil)
        #expect(try store.pluginValue(tenant: tenant, plugin: "q", key: "k") == nil)
        try await store.deletePluginValue(tenant: tenant, plugin: "p", key: "k", expected: .exactly(3))
        #expect(try store.pluginValue(tenant: tenant, plugin: "p", key: "k") == nil)
    }

    @Test func retentionKeepsEventsAnEnabledIntegrationHasNotRead() async throws {
        let store = try Self.makeStore()
        defer { store.close() }
        let tenant = try await store.createTenant(name: "T").id
        for _ in 0..<3 { _ = try await store.appendEvent(tenant: tenant, type: "test.happened", data: .object([:])) }
        try await store.saveCursor(consumer: "everything", position: try store.lastPosition())
        _ = try await store.saveIntegration(tenant: tenant, plugin: "p", isEnabled: true, config: .object([:]), initialCursor: 0)
        let future = Date().addingTimeInterval(60)
        #expect(try await store.purgeAll(.events, olderThan: future) == 0)
        try await store.saveIntegrationCursor(tenant: tenant, plugin: "p", seq: 2)
        #expect(try await store.purgeAll(.events, olderThan: future) == 2)
        #expect(try store.firstRetainedSeq(tenant: tenant) == 3)
        #expect(try await store.purgeAll(.events, olderThan: Date().addingTimeInterval(-60)) == 0)
    }

    @Test func anIntegrationKeepsItsCursorAcrossSaves() async throws {
        let store = try Self.makeStore()
        defer { store.close() }
        let tenant = try await store.createTenant(name: "T").id
        let created = try await store.saveIntegration(tenant: tenant, plugin: "p", isEnabled: true, config: .object(["a": .number(1)]), initialCursor: 5)
        #expect(created.cursor == 5)
        try await store.saveIntegrationCursor(tenant: tenant, plugin: "p", seq: 9)
        try await store.saveIntegrationCursor(tenant: tenant, plugin: "p", seq: 7)
        let disabled = try await store.saveIntegration(tenant: tenant, plugin: "p", isEnabled: false, config: .object([:]), initialCursor: 0)
        #expect(disabled.cursor == 9)
        #expect(disabled.isEnabled == false)
        #expect(disabled.version == 2)
    }

    @Test func apiKeysAreStoredHashedAndRevocable() async throws {
        let store = try Self.makeStore()
        defer { store.close() }
        let tenant = try await store.createTenant(name: "T")
        let allowed = [try IPAddressRange(parsing: "10.0.0.0/8"), try IPAddressRange(parsing: "2001:db8::/32")]
        let (key, secret) = try await store.createAPIKey(
            tenant: tenant.id,
            settings: APIKeySettings(name: "ci", scopes: [.messagesWrite, .agentsRead], allowedIPs: allowed, rateLimit: 60)
        )
        #expect(secret.hasPrefix("sb_live_"))
        #expect(key.prefix == String(secret.prefix(12)))
        let found = try #require(try store.authenticate(secret: secret))
        #expect(found.id == key.id && found.tenantID == tenant.id)
        #expect(found.scopes == [.messagesWrite, .agentsRead])
        #expect(found.allowedIPs == allowed && found.rateLimit == 60)
        #expect(found.principal == Principal(tenantID: tenant.id, subject: key.id, role: .integration, scopes: [.messagesWrite, .agentsRead], method: .apiKey))
        #expect(try store.authenticate(secret: secret + "x") == nil)

        let updated = try await store.updateAPIKey(id: key.id, tenant: tenant.id, settings: APIKeySettings(scopes: [.admin], expiresAt: .some(Date(timeIntervalSinceNow: -1)), rateLimit: .some(nil)))
        #expect(updated.principal.role == .admin && updated.rateLimit == nil && updated.allowedIPs == allowed)
        #expect(try store.authenticate(secret: secret)?.isLive(at: Date()) == false)

        let (rotated, newSecret) = try await store.rotateAPIKey(id: key.id, tenant: tenant.id)
        #expect(rotated.id == key.id && newSecret != secret)
        #expect(try store.authenticate(secret: secret) == nil)
        #expect(try store.authenticate(secret: newSecret)?.id == key.id)

        let revoked = try await store.revokeAPIKey(id: key.id, tenant: tenant.id)
        #expect(revoked.revokedAt != nil)
        #expect(try store.authenticate(secret: newSecret)?.isLive(at: Date()) == false)
        await #expect(throws: SwitchboardError.self) { try await store.rotateAPIKey(id: key.id, tenant: tenant.id) }
        await #expect(throws: SwitchboardError.self) { try await store.createAPIKey(tenant: "nope", settings: APIKeySettings(name: "x")) }
        await #expect(throws: SwitchboardError.self) { try await store.revokeAPIKey(id: key.id, tenant: "other") }
    }

    @Test func consumerCursorsPersist() async throws {
        let store = try Self.makeStore()
        defer { store.close() }
        #expect(try store.cursor(consumer: "webhooks") == 0)
        try await store.saveCursor(consumer: "webhooks", position: 42)
        try await store.saveCursor(consumer: "webhooks", position: 43)
        #expect(try store.cursor(consumer: "webhooks") == 43)
        #expect(try store.cursor(consumer: "plugins") == 0)
    }

    @Test func theWriterThreadCarriesItsNameForTheKernel() async throws {
        let store = try Self.makeStore()
        defer { store.close() }
        _ = try await store.createTenant(name: "T")
        let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")
        let names = tasks.compactMap { try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8) }
        #expect(names.contains("\(SQLiteWriter.threadName)\n"))
    }

    @Test func aReadAfterACommitSeesItThoughTheConnectionKeepsItsSnapshot() async throws {
        // One read connection, so that every read reuses the transaction the one before it left open.
        let store = try SQLiteStore(configuration: .init(path: Self.temporaryPath(), readers: 1), logger: Logger(label: "test"))
        defer { store.close() }
        let tenant = try await store.createTenant(name: "T")
        for count in 1...5 {
            // Idle during the commit: the writer ends its transaction before COMMIT.
            _ = try store.agents(tenant: tenant.id, status: nil, page: PageRequest(limit: 100))
            _ = try await store.execute(.createAgent(NewAgent(name: "Idle \(count)")), tenant: tenant.id, idempotency: nil)
            #expect(try store.agents(tenant: tenant.id, status: nil, page: PageRequest(limit: 100)).items.count == 2 * count - 1)
            // Busy during the commit: it goes back to the pool with its old snapshot, renewed at the next read.
            // The read holds its connection on a thread of its own, so that no thread of the shared
            // cooperative pool blocks (other tests run on it).
            let reading = Flag(), released = Flag(), done = Flag()
            Thread {
                _ = try? store.readers.read { connection in
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
            #expect(try store.agents(tenant: tenant.id, status: nil, page: PageRequest(limit: 100)).items.count == 2 * count)
        }
    }

    @Test func aCommitFromAnotherProcessIsSeenWithinTheSnapshotLifetime() async throws {
        let path = Self.temporaryPath()
        let store = try SQLiteStore(configuration: .init(path: path, readers: 1), logger: Logger(label: "test"))
        defer { store.close() }
        #expect(try store.tenants().isEmpty)
        // Another store on the same file stands for the CLI: this store's pool hears of none of its commits.
        let other = try Self.makeStore(path: path)
        defer { other.close() }
        let tenant = try await other.createTenant(name: "From the CLI")
        try await Task.sleep(for: SQLiteReaderPool.snapshotLifetime + .milliseconds(20))
        #expect(try store.tenants().map(\.id) == [tenant.id])
    }

    @Test func aCachedAgentIsNeverOlderThanTheLastCommit() async throws {
        let store = try Self.makeStore()
        defer { store.close() }
        let tenant = try await store.createTenant(name: "T")
        guard case .applied(let created) = try await store.execute(.createAgent(NewAgent(name: "A")), tenant: tenant.id, idempotency: nil),
            case .agent(let agent) = created.resource
        else { Issue.record("no agent"); return }
        // Readers on threads of their own keep the cache filled while the writer changes the agent.
        let stop = Flag()
        let readers = (0..<2).map { _ in
            let done = Flag()
            Thread {
                while !stop.isSet { _ = try? store.agent(id: agent.id, tenant: tenant.id) }
                done.set()
            }.start()
            return done
        }
        for round in 1...200 {
            let status: Agent.Status = round.isMultiple(of: 2) ? .online : .away
            _ = try await store.execute(.updateAgent(id: agent.id, AgentChanges(status: status), expectedVersion: nil), tenant: tenant.id, idempotency: nil)
            let read = try #require(try store.agent(id: agent.id, tenant: tenant.id))
            #expect(read.version == agent.version + Int64(round) && read.status == status, "round \(round)")
        }
        stop.set()
        for done in readers { while !done.isSet { try await Task.sleep(for: .milliseconds(1)) } }
        #expect(try store.agent(id: agent.id, tenant: "another tenant") == nil)
    }

    @Test func aRecordReadBeforeACommitThatChangedRecordsIsNotCached() {
        let cache = RecordCache<Int>()
        let key = RecordKey(tenant: "t", id: "a")
        let before = SQLiteReaderPool.Snapshot(commits: 4, started: .now)
        cache.invalidate([RecordKey(tenant: "t", id: "b")], commits: 5)
        cache.insert(1, for: key, readIn: before)
        #expect(cache.record(key) == nil)
        let after = SQLiteReaderPool.Snapshot(commits: 5, started: .now)
        cache.insert(2, for: key, readIn: after)
        #expect(cache.record(key) == 2)
        cache.invalidate([key], commits: 6)
        #expect(cache.record(key) == nil)
        // An entry lives as long as the read transaction it came from could have.
        let old = SQLiteReaderPool.Snapshot(commits: 6, started: .now - SQLiteReaderPool.snapshotLifetime)
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
        #expect(try store.agent(id: agent.id, tenant: tenant.id)?.name == "A")
        let other = try Self.makeStore(path: path)
        defer { other.close() }
        _ = try await other.execute(.updateAgent(id: agent.id, AgentChanges(name: "B"), expectedVersion: nil), tenant: tenant.id, idempotency: nil)
        try await Task.sleep(for: SQLiteReaderPool.snapshotLifetime + .milliseconds(20))
        #expect(try store.agent(id: agent.id, tenant: tenant.id)?.name == "B")
    }

    @Test func theWALStaysBoundedWhileReadersRunAlongsideTheWriter() async throws {
        let path = Self.temporaryPath()
        let store = try SQLiteStore(configuration: .init(path: path, synchronous: .normal), logger: Logger(label: "test"))
        defer { store.close() }
        let tenant = try await store.createTenant(name: "T")
        let writing = Flag(true)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<2 {
                group.addTask {
                    var reads = 0
                    while writing.isSet, reads < 1_000_000 {
                        _ = try store.agents(tenant: tenant.id, status: nil, page: PageRequest(limit: 1))
                        reads += 1
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
        let stored = try store.storedEvents(afterPosition: 0, limit: 1_000)
        #expect(stored.count == 200)
        #expect(stored.allSatisfy { $0.data != .null })
        for tenant in tenants {
            #expect(stored.filter { $0.tenantID == tenant.id }.map(\.seq) == Array(1...100))
            #expect(try store.lastSeq(tenant: tenant.id) == 100)
        }
        #expect(store.recentEvents.events(after: 0, limit: 1_000) == stored)
        #expect(try store.events(afterPosition: stored[99].position, limit: 50) == Array(stored[100..<150]))
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
