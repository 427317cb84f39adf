import Foundation
import Logging
import SwitchboardCore
import SwitchboardTestSupport
import Synchronization
import Testing

@testable import SwitchboardStore

/// The storage ports' behaviour, the same on every engine: each test runs on SQLite and on PostgreSQL.
@Suite(.timeLimit(.minutes(5))) struct StoreTests {
    /// Opens (creating and migrating) the store `settings` name: PostgreSQL when it has a URL.
    static func open(_ settings: DatabaseSettings) throws -> SQLStore {
        try openTestStore(settings, logger: Logger(label: "test"))
    }

    @Test(arguments: TestBackend.allCases) func dataSurvivesARestart(_ backend: TestBackend) async throws {
        let settings = try backend.freshDatabase()
        let store = try Self.open(settings)
        let tenant = try await store.createTenant(name: "T")
        let outcome = try await store.execute(.createAgent(NewAgent(name: "Kept")), tenant: tenant.id, idempotency: nil)
        guard case .applied(let result) = outcome, case .agent(let agent) = result.resource else {
            Issue.record("unexpected outcome")
            return
        }
        store.close()

        let reopened = try Self.open(settings)
        defer { reopened.close() }
        #expect(try await reopened.agent(id: agent.id, tenant: tenant.id) == agent)
        #expect(try await reopened.events(tenant: tenant.id, after: 0, limit: 10).map(\.type) == [.agentCreated])
    }

    @Test(arguments: TestBackend.allCases) func aFailingCommandLeavesNeitherRowNorEvent(_ backend: TestBackend) async throws {
        let store = try Self.open(try backend.freshDatabase())
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
        #expect(try await store.conversations(tenant: tenant.id, filter: .init(), page: .init()).items.isEmpty)
        #expect(try await store.events(tenant: tenant.id, after: 0, limit: 10).isEmpty)
        guard case .applied(let result) = visitor, case .visitor(let created) = result.resource else {
            Issue.record("unexpected outcome")
            return
        }
        #expect(try await store.visitor(id: created.id, tenant: tenant.id) == created)
    }

    @Test(arguments: TestBackend.allCases) func concurrentCommandsShareGroupCommitsAndKeepSequencesGapFree(_ backend: TestBackend) async throws {
        let store = try Self.open(try backend.freshDatabase())
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
            let events = try await store.events(tenant: tenant.id, after: 0, limit: 1_000)
            #expect(events.map(\.seq) == Array(1...200))
        }
        let positions = try await store.events(afterPosition: 0, limit: 1_000).map(\.position)
        #expect(positions == positions.sorted())
        #expect(positions.count == 400)
    }

    @Test(arguments: TestBackend.allCases) func migrationsRunOnceAndReopenCleanly(_ backend: TestBackend) async throws {
        let settings = try backend.freshDatabase()
        try Self.open(settings).close()
        let store = try Self.open(settings)
        defer { store.close() }
        #expect(try await store.tenants().isEmpty)
        #expect(SQLStore.schemaVersion == 17)
    }

    @Test(arguments: TestBackend.allCases) func aDatabaseOfANewerSchemaIsRefusedNamingBothVersions(_ backend: TestBackend) async throws {
        let settings = try backend.freshDatabase()
        try Self.open(settings).close()
        switch backend {
        case .sqlite:
            let connection = try SQLiteConnection(path: settings.path, isReadOnly: false, synchronous: "FULL")
            try connection.execute("PRAGMA user_version = 99")
            connection.close()
        case .postgres:
            let name = String(try #require(settings.url?.split(separator: "/").last))
            try PostgresTestCluster.shared().psql("UPDATE switchboard_schema SET version = 99", database: name)
        }
        #expect {
            try Self.open(settings)
        } throws: { error in
            "\(error)".contains("schema version 99, not one this build knows (up to \(SQLStore.schemaVersion))")
        }
    }

    @Test(arguments: TestBackend.allCases) func pluginValuesAreScopedAndCompareAndSet(_ backend: TestBackend) async throws {
        let store = try Self.open(try backend.freshDatabase())
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
        #expect(try await store.pluginValue(tenant: tenant, plugin: "p", key: "k") == PluginValue(bytes: [3], version: 3))
        #expect(try await store.pluginValue(tenant: other, plugin: "p", key: "k") == nil)
        #expect(try await store.pluginValue(tenant: tenant, plugin: "q", key: "k") == nil)
        try await store.deletePluginValue(tenant: tenant, plugin: "p", key: "k", expected: .exactly(3))
        #expect(try await store.pluginValue(tenant: tenant, plugin: "p", key: "k") == nil)
    }

    @Test(arguments: TestBackend.allCases) func retentionKeepsEventsAnEnabledIntegrationHasNotRead(_ backend: TestBackend) async throws {
        let store = try Self.open(try backend.freshDatabase())
        defer { store.close() }
        let tenant = try await store.createTenant(name: "T").id
        for _ in 0..<3 { _ = try await store.appendEvent(tenant: tenant, type: "test.happened", data: .object([:])) }
        try await store.saveCursor(consumer: "everything", position: try await store.lastPosition())
        _ = try await store.saveIntegration(tenant: tenant, plugin: "p", isEnabled: true, config: .object([:]), initialCursor: 0)
        let future = Date().addingTimeInterval(60)
        #expect(try await store.purgeAll(.events, olderThan: future) == 0)
        try await store.saveIntegrationCursor(tenant: tenant, plugin: "p", seq: 2)
        #expect(try await store.purgeAll(.events, olderThan: future) == 2)
        #expect(try await store.firstRetainedSeq(tenant: tenant) == 3)
        #expect(try await store.purgeAll(.events, olderThan: Date().addingTimeInterval(-60)) == 0)
    }

    @Test(arguments: TestBackend.allCases) func anIntegrationKeepsItsCursorAcrossSaves(_ backend: TestBackend) async throws {
        let store = try Self.open(try backend.freshDatabase())
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

    @Test(arguments: TestBackend.allCases) func apiKeysAreStoredHashedAndRevocable(_ backend: TestBackend) async throws {
        let store = try Self.open(try backend.freshDatabase())
        defer { store.close() }
        let tenant = try await store.createTenant(name: "T")
        let allowed = [try IPAddressRange(parsing: "10.0.0.0/8"), try IPAddressRange(parsing: "2001:db8::/32")]
        let (key, secret) = try await store.createAPIKey(
            tenant: tenant.id,
            settings: APIKeySettings(name: "ci", scopes: [.messagesWrite, .agentsRead], allowedIPs: allowed, rateLimit: 60)
        )
        #expect(secret.hasPrefix("sb_live_"))
        #expect(key.prefix == String(secret.prefix(12)))
        let found = try #require(try await store.authenticate(secret: secret))
        #expect(found.id == key.id && found.tenantID == tenant.id)
        #expect(found.scopes == [.messagesWrite, .agentsRead])
        #expect(found.allowedIPs == allowed && found.rateLimit == 60)
        #expect(found.principal == Principal(tenantID: tenant.id, subject: key.id, role: .integration, scopes: [.messagesWrite, .agentsRead], method: .apiKey))
        #expect(try await store.authenticate(secret: secret + "x") == nil)

        let updated = try await store.updateAPIKey(id: key.id, tenant: tenant.id, settings: APIKeySettings(scopes: [.admin], expiresAt: .some(Date(timeIntervalSinceNow: -1)), rateLimit: .some(nil)))
        #expect(updated.principal.role == .admin && updated.rateLimit == nil && updated.allowedIPs == allowed)
        #expect(try await store.authenticate(secret: secret)?.isLive(at: Date()) == false)

        let (rotated, newSecret) = try await store.rotateAPIKey(id: key.id, tenant: tenant.id)
        #expect(rotated.id == key.id && newSecret != secret)
        #expect(try await store.authenticate(secret: secret) == nil)
        #expect(try await store.authenticate(secret: newSecret)?.id == key.id)

        let revoked = try await store.revokeAPIKey(id: key.id, tenant: tenant.id)
        #expect(revoked.revokedAt != nil)
        #expect(try await store.authenticate(secret: newSecret)?.isLive(at: Date()) == false)
        await #expect(throws: SwitchboardError.self) { try await store.rotateAPIKey(id: key.id, tenant: tenant.id) }
        await #expect(throws: SwitchboardError.self) { try await store.createAPIKey(tenant: "nope", settings: APIKeySettings(name: "x")) }
        await #expect(throws: SwitchboardError.self) { try await store.revokeAPIKey(id: key.id, tenant: "other") }
    }

    @Test(arguments: TestBackend.allCases) func consumerCursorsPersist(_ backend: TestBackend) async throws {
        let store = try Self.open(try backend.freshDatabase())
        defer { store.close() }
        #expect(try await store.cursor(consumer: "webhooks") == 0)
        try await store.saveCursor(consumer: "webhooks", position: 42)
        try await store.saveCursor(consumer: "webhooks", position: 43)
        #expect(try await store.cursor(consumer: "webhooks") == 43)
        #expect(try await store.cursor(consumer: "plugins") == 0)
    }
}
