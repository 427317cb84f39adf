#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HTTPTypes
import Logging
import Synchronization
import SwitchboardCore
import SwitchboardStore
import SwitchboardTestSupport
import Testing

@testable import SwitchboardServer

@Suite(.timeLimit(.minutes(5))) struct DataLifecycleTests {
    /// Every kind of record that grows is purged once past its retention (the clock of the maintenance
    /// pass is moved 400 days on), pending webhook deliveries are kept, and the database shrinks.
    @Test func everyGrowingKindIsPurgedOnScheduleAndTheDatabaseShrinks() async throws {
        let server = try await TestServer.make {
            $0.webhooks.allowsPrivateNetworks = true
            $0.webhooks.allowsHTTP = true
            $0.webhooks.retrySchedule = [.seconds(3_600)]
        }
        let receiver = WebhookReceiver()
        try await receiver.run { url in
            try await server.run { client in
                let key = server.tenantA.key
                let fixtures = Fixtures(client: client, key: key)
                let conversation = try await fixtures.conversation()
                let padding = String(repeating: "x", count: 2_000)
                for index in 0..<400 { _ = try await fixtures.message(in: conversation.id, from: conversation.visitor, "\(index) \(padding)") }
                _ = try await client.call(.post, "/api/v1/agents", key: key, json: ["name": "Once"], headers: [HTTPField.Name("Idempotency-Key")!: "once"])
                // One endpoint receives its deliveries; the other's port is closed, so its delivery stays pending.
                let delivered = try #require(try await client.call(.post, "/api/v1/webhooks", key: key, json: ["url": .string(url), "events": ["agent.*"]])["id"]?.string)
                let pending = try #require(
                    try await client.call(.post, "/api/v1/webhooks", key: key, json: ["url": "http://127.0.0.1:9/closed", "events": ["agent.*"]])["id"]?.string
                )
                _ = try await fixtures.agent("Late")
                try await eventually {
                    try await client.call(.get, "/api/v1/webhooks/\(delivered)/deliveries", key: key)["data"]?.array.first?["status"]?.string == "succeeded"
                }
                // A revoked access token, kept as a revocation until its expiry.
                let oauth = try await client.call(.post, "/api/v1/oauth-clients", key: key, json: ["name": "c", "scopes": ["agents:read"]])
                let form = "grant_type=client_credentials&client_id=\(oauth["client_id"]?.string ?? "")&client_secret=\(oauth["client_secret"]?.string ?? "")"
                let token = try await client.call(.post, "/oauth/token", key: nil, body: form, headers: [.contentType: "application/x-www-form-urlencoded"])
                #expect(try await client.call(.post, "/api/v1/auth/revoke", key: key, json: ["token": token["access_token"] ?? .null]).status == .noContent)

                // Every consumer has read every event, so the log may be purged too.
                let store = server.store
                try await eventually {
                    let last = try await store.lastPosition()
                    let cursors = try await store.cursors()
                    return cursors.count >= 3 && cursors.values.allSatisfy { $0 == last }
                }
                let before = try await store.figures()
                for kind in ["events", "idempotency_keys", "webhook_deliveries", "webhook_attempts", "audit_events", "revoked_tokens"] {
                    #expect((before.rows[kind] ?? 0) > 0, "\(kind) has rows to purge")
                }

                let later = Date().addingTimeInterval(400 * 86_400)
                let maintenance = MaintenanceService(
                    store: store,
                    retention: MaintenanceService.retention(of: server.configuration.api),
                    logger: testLogger,
                    batchSize: 50,
                    now: { later }
                )
                try await maintenance.pass()
                let after = try await store.figures()
                for kind in ["events", "idempotency_keys", "audit_events", "revoked_tokens"] {
                    #expect(after.rows[kind] == 0, "\(kind): \(after.rows[kind] ?? -1) left")
                }
                // The finished delivery went with its attempt; the pending ones stay.
                #expect(try await client.call(.get, "/api/v1/webhooks/\(delivered)/deliveries", key: key)["data"]?.array.isEmpty == true)
                let kept = try await client.call(.get, "/api/v1/webhooks/\(pending)/deliveries", key: key)["data"]?.array ?? []
                #expect(!kept.isEmpty && kept.allSatisfy { $0["status"]?.string == "pending" })
                #expect(after.rows["webhook_deliveries"] == Int64(kept.count))
                #expect(after.databaseBytes < before.databaseBytes, "the vacuum gave pages back: \(before.databaseBytes) → \(after.databaseBytes)")
                // The messages themselves are the tenant's data: no retention touches them.
                #expect(try await client.call(.get, "/api/v1/conversations/\(conversation.id)/messages?limit=1", key: key)["data"]?.array.count == 1)
            }
        }
    }

    /// A backup taken while 8 writers post messages holds every message acknowledged before it began,
    /// passes its integrity check, and restores into a fresh folder; a restore over an open database is refused.
    @Test func aBackupUnderLoadHasEveryAcknowledgedMessageAndRestores() async throws {
        let server = try await TestServer.make()
        let copyFolder = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-backup-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: copyFolder, withIntermediateDirectories: true)
        let copy = copyFolder + "/switchboard.sqlite"
        let acknowledged = Collected()
        let before = Collected()
        try await server.run { client in
            let key = server.tenantA.key
            let conversation = try await Fixtures(client: client, key: key).conversation()
            let stop = StopFlag()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<8 {
                    group.addTask {
                        var index = 0
                        while !stop.value.load(ordering: .relaxed) {
                            let answer = try await Fixtures(client: client, key: key).message(in: conversation.id, from: conversation.visitor, "w\(writer)-\(index)")
                            if answer.status == .created, let id = answer["id"]?.string { acknowledged.ids.withLock { $0.append(id) } }
                            index += 1
                        }
                    }
                }
                try await eventually(limit: .seconds(60)) { acknowledged.ids.withLock { $0.count } >= 200 }
                let count = acknowledged.ids.withLock { acknowledged in
                    before.ids.withLock { $0 = acknowledged }
                    return acknowledged.count
                }
                try StoreFactory.backup(server.configuration.database, to: copy)
                try await eventually(limit: .seconds(60)) { acknowledged.ids.withLock { $0.count } >= count + 100 }
                stop.value.store(true, ordering: .relaxed)
                try await group.waitForAll()
            }
            #expect(try StoreFactory.check(copy: copy) == SQLStore.schemaVersion)
            #expect(throws: (any Error).self, "a restore over a database in use is refused") {
                try StoreFactory.restore(server.configuration.database, from: copy, replacing: true)
            }
        }
        let restored = DatabaseSettings(path: temporaryDatabasePath())
        try StoreFactory.restore(restored, from: copy, replacing: false)
        let store = try openStore(restored)
        defer { store.close() }
        let expected = before.ids.withLock { $0 }
        var missing: [String] = []
        for id in expected where try await store.message(id: id, tenant: server.tenantA.tenantID) == nil { missing.append(id) }
        #expect(missing.isEmpty, "\(missing.count) of \(expected.count) acknowledged messages are missing")
    }

    /// The database's file system fills up: writes answer 507 (never 500), /ready says why, reads go on,
    /// and once space is freed writes succeed again without a restart; every 201 survives a restart.
    @Test(.enabled(if: getuid() == 0, "mounts a tmpfs")) func aFullDiskRefusesWritesCleanlyAndLosesNothing() async throws {
        let mount = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-full-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        let mounted = try await PythonScript.run("import subprocess, sys; sys.exit(subprocess.call(['mount', '-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', sys.argv[1]]))", [mount])
        try #require(mounted.status == 0, "\(mounted)")
        defer { _ = umount2(mount, Int32(MNT_DETACH)) }
        let filler = mount + "/filler"
        let settings = DatabaseSettings(path: mount + "/db/switchboard.sqlite", synchronous: .full)
        let server = try await TestServer.make { $0.database = settings }
        let acknowledged = Collected()
        try await server.run { client in
            let key = server.tenantA.key
            let fixtures = Fixtures(client: client, key: key)
            let conversation = try await fixtures.conversation()
            // Leave little room, taken back later.
            #expect(FileManager.default.createFile(atPath: filler, contents: Data(count: 3 << 20)))
            let content = String(repeating: "y", count: 4_000)
            var statuses: [Int: Int] = [:]
            for index in 0..<3_000 {
                let answer = try await fixtures.message(in: conversation.id, from: conversation.visitor, "\(index) \(content)")
                statuses[answer.status.code, default: 0] += 1
                if answer.status == .created, let id = answer["id"]?.string { acknowledged.ids.withLock { $0.append(id) } }
                if answer.status.code == 507 {
                    #expect(answer["code"]?.string == "storage_full" && answer.headers[.retryAfter] != nil)
                    break
                }
            }
            #expect(statuses[507] == 1 && Set(statuses.keys).isSubset(of: [201, 507]), "\(statuses)")
            let ready = try await client.call(.get, "/ready", key: nil)
            #expect(ready.status == .serviceUnavailable && ready["code"]?.string == "storage_full")
            let last = try #require(acknowledged.ids.withLock { $0.last })
            #expect(try await client.call(.get, "/api/v1/messages/\(last)", key: key).status == .ok, "reads go on")

            try FileManager.default.removeItem(atPath: filler)
            try await eventually {
                let answer = try await fixtures.message(in: conversation.id, from: conversation.visitor, "after")
                if answer.status == .created, let id = answer["id"]?.string { acknowledged.ids.withLock { $0.append(id) } }
                return answer.status == .created
            }
            #expect(try await client.call(.get, "/ready", key: nil).status == .ok)
        }
        try StoreFactory.check(copy: settings.path)
        let reopened = try openStore(settings)
        defer { reopened.close() }
        let created = acknowledged.ids.withLock { $0 }
        var missing: [String] = []
        for id in created where try await reopened.message(id: id, tenant: server.tenantA.tenantID) == nil { missing.append(id) }
        #expect(missing.isEmpty, "\(missing.count) of \(created.count) acknowledged messages are missing")
    }
}

/// Tells the writers of a test to stop.
final class StopFlag: Sendable {
    let value = Atomic(false)
}

/// Ids collected by concurrent writers.
final class Collected: Sendable {
    let ids = Mutex<[String]>([])
}
