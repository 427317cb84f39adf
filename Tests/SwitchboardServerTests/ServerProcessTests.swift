import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SwitchboardCore
import SwitchboardTestSupport
import Testing

/// The real `switchboard serve` process: killed with SIGKILL while webhook deliveries are queued, and
/// stopped with SIGTERM.
@Suite(.timeLimit(.minutes(5))) struct ServerProcessTests {
    /// A running `switchboard serve` child and the port it listens on.
    final class ServerProcess: @unchecked Sendable {
        // @unchecked: the process and its output are touched by one test task at a time.
        let process = SpawnedProcess()
        let output = Pipe()
        let errors = Pipe()
        var port = 0

        init(environment: [String: String]) throws {
            process.executableURL = URL(fileURLWithPath: PluginFixtures.switchboardExecutable)
            process.arguments = ["serve"]
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            process.standardOutput = output
            process.standardError = errors
            try process.run()
            var log = ""
            let deadline = Date().addingTimeInterval(20)
            while port == 0, Date() < deadline {
                log += String(decoding: errors.fileHandleForReading.availableData, as: UTF8.self)
                if let match = log.firstMatch(of: /listening on 127\.0\.0\.1:(\d+)/) { port = Int(match.1)! }
            }
            guard port != 0 else { throw FixtureError(message: "the server did not start: \(log)") }
            // Keep draining the log so the server never blocks on a full pipe; stop at its end, so that no
            // dispatch source is left watching a descriptor that closes with the pipe.
            errors.fileHandleForReading.readabilityHandler = { handle in
                if handle.availableData.isEmpty { handle.readabilityHandler = nil }
            }
        }

        /// What the first start printed on stdout (read once).
        private(set) lazy var printed = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)

        /// The demo key the first start printed.
        func demoKey() -> String? {
            printed.firstMatch(of: /sb_live_[A-Za-z0-9]+/).map { String($0.output) }
        }

        /// The demo tenant's id the first start printed.
        func demoTenant() -> String? {
            printed.firstMatch(of: /demo tenant ([0-9a-f-]+)/).map { String($0.output.1) }
        }

        func kill(_ signal: Int32 = SIGKILL) {
            Foundation.kill(process.processIdentifier, signal)
            process.waitUntilExit()
            errors.fileHandleForReading.readabilityHandler = nil
        }
    }

    /// The environment of a server on a free port over a database and plugins folder in a new temporary
    /// folder named after `name`, with `extra` settings.
    static func environment(_ name: String, _ extra: [String: String] = [:]) -> [String: String] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-\(name)-\(UUID().uuidString)").path
        return [
            "SWITCHBOARD_SERVER_PORT": "0",
            "SWITCHBOARD_DATABASE_PATH": directory + "/db.sqlite",
            "SWITCHBOARD_PLUGINS_DIR": directory + "/plugins",
            "SWITCHBOARD_LOG_LEVEL": "info",
        ].merging(extra) { $1 }
    }

    @Test func theExecutableIgnoresSIGPIPE() throws {
        // A plugin child waits for frames on stdin; its signal dispositions are those of every subcommand.
        let child = SpawnedProcess()
        child.executableURL = URL(fileURLWithPath: PluginFixtures.switchboardExecutable)
        child.arguments = ["plugin-host", try #require(PluginFixtures.built["fixture"])]
        let input = Pipe()
        child.standardInput = input
        child.standardOutput = Pipe()
        try child.run()
        defer {
            try? input.fileHandleForWriting.close()
            child.waitUntilExit()
        }
        // The child ignores it from its first moments; the parent's own dispositions do not count.
        let bit = UInt64(1) << (UInt64(SIGPIPE) - 1)
        var isIgnored = false
        let deadline = Date().addingTimeInterval(5)
        while !isIgnored, Date() < deadline {
            let status = (try? String(contentsOfFile: "/proc/\(child.processIdentifier)/status", encoding: .utf8)) ?? ""
            if let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigIgn:") }),
                let mask = UInt64(line.dropFirst("SigIgn:".count).trimmingCharacters(in: .whitespaces), radix: 16)
            {
                isIgnored = mask & bit != 0
            }
            if !isIgnored { usleep(10_000) }
        }
        #expect(isIgnored, "SIGPIPE is not ignored by switchboard plugin-host")
    }

    @Test func aKilledServerDeliversEveryQueuedEventAfterItsRestartInOrder() async throws {
        let environment = Self.environment("kill", [
            "SWITCHBOARD_WEBHOOKS_ALLOW_HTTP": "true",
            "SWITCHBOARD_WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "true",
            "SWITCHBOARD_WEBHOOKS_RETRY_SCHEDULE_MS": Array(repeating: "300", count: 200).joined(separator: ","),
            "SWITCHBOARD_WEBHOOKS_BREAKER_THRESHOLD": "1000",
        ])
        let receiver = WebhookReceiver()
        // Refuse everything until the restart, so all 1,000 deliveries are still queued at the kill.
        await receiver.answer(Array(repeating: .init(status: .serviceUnavailable), count: 1_000_000))
        try await receiver.run { url in
            let first = try ServerProcess(environment: environment)
            let key = try #require(first.demoKey())
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            func post(_ path: String, _ body: String, port: Int) async throws -> JSONValue {
                var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/api/v1\(path)")
                request.method = .POST
                request.headers.add(name: "authorization", value: "Bearer \(key)")
                request.headers.add(name: "content-type", value: "application/json")
                request.body = .bytes(ByteBuffer(string: body))
                let response = try await client.execute(request, timeout: .seconds(10))
                return try JSONDecoder().decode(JSONValue.self, from: Data(buffer: try await response.body.collect(upTo: 1 << 20)))
            }
            do {
                _ = try await post("/webhooks", #"{"url": "\#(url)", "events": ["agent.created"]}"#, port: first.port)
                for index in 0..<1_000 { _ = try await post("/agents", #"{"name": "Agent \#(index)"}"#, port: first.port) }
                first.kill()

                await receiver.answer([])
                let second = try ServerProcess(environment: environment)
                try await eventually(limit: .seconds(60)) {
                    Set(await receiver.received.filter { $0.json["seq"]?.int != nil }.compactMap { $0.json["seq"]?.int }).count == 1_000
                }
                // None lost, and the endpoint saw them in order: the first call of each seq comes after the previous seq's.
                let seqs = await receiver.received.compactMap { $0.json["seq"]?.int }
                var firstSeen: [Int] = []
                var seen = Set<Int>()
                for seq in seqs where seen.insert(seq).inserted { firstSeen.append(seq) }
                #expect(firstSeen == Array(1...1_000))
                second.kill()
            } catch {
                first.kill()
                throw error
            }
            try await client.shutdown()
        }
    }

    /// A key the CLI creates, and then revokes, on the running server's SQLite file works, and then
    /// stops working. How soon is the settings watcher's to prove (it reads every 0.25 s:
    /// `SQLiteStoreTests`, `ExpiringCacheTests`); under a loaded CI machine a request alone can take
    /// seconds, so the bounds here are only those of a hang.
    @Test func aKeyTheCLICreatesOrRevokesTakesEffectOnTheRunningServer() async throws {
        // The polls below fail until the change is seen; they must not count as a brute force.
        let environment = Self.environment("cli", ["SWITCHBOARD_SECURITY_FAILED_AUTH_PER_ADDRESS": "10000"])
        let server = try ServerProcess(environment: environment)
        defer { server.kill(SIGTERM) }
        let tenant = try #require(server.demoTenant())
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        func status(_ key: String) async throws -> HTTPResponseStatus {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/api/v1/agents")
            request.headers.add(name: "authorization", value: "Bearer \(key)")
            return try await client.execute(request, timeout: .seconds(10)).status
        }
        func cli(_ arguments: [String]) throws -> String {
            let (exit, output) = try runCommand(
                PluginFixtures.switchboardExecutable, arguments, environment: ProcessInfo.processInfo.environment.merging(environment) { $1 }
            )
            #expect(exit == 0, "switchboard \(arguments.joined(separator: " ")): \(output)")
            return output
        }
        let created = try cli(["keys", "create", "--tenant", tenant, "--name", "new"])
        let key = try #require(created.firstMatch(of: /sb_live_[A-Za-z0-9]+/).map { String($0.output) })
        try await eventually { try await status(key) == .ok }
        let id = try #require(created.firstMatch(of: /Created key ([0-9a-f-]+)/).map { String($0.output.1) })
        _ = try cli(["keys", "revoke", "--tenant", tenant, id])
        try await eventually { try await status(key) == .unauthorized }
        try await client.shutdown()
    }

    @Test func sighupIsIgnoredAndSigtermStopsTheServerCleanlyKeepingWhatWasWritten() async throws {
        let environment = Self.environment("term")
        let first = try ServerProcess(environment: environment)
        let key = try #require(first.demoKey())
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(first.port)/api/v1/agents")
        request.method = .POST
        request.headers.add(name: "authorization", value: "Bearer \(key)")
        request.body = .bytes(ByteBuffer(string: #"{"name": "Kept"}"#))
        #expect(try await client.execute(request, timeout: .seconds(10)).status == .created)
        // SIGHUP (systemctl reload) without TLS changes nothing: the server goes on answering.
        Foundation.kill(first.process.processIdentifier, SIGHUP)
        var health = HTTPClientRequest(url: "http://127.0.0.1:\(first.port)/health")
        health.method = .GET
        #expect(try await client.execute(health, timeout: .seconds(10)).status == .ok)
        #expect(first.process.isRunning)
        // An open WebSocket is told that the server goes away, and the server waits for its answer.
        let (ready, isReady) = AsyncStream<Void>.makeStream()
        let socket = Task {
            try await withSocket(port: first.port, query: "token=\(key)") { socket in
                _ = try await socket.next(type: "ready")
                isReady.yield()
                while try await socket.next() != nil {}
            }
        }
        for await _ in ready { break }
        Foundation.kill(first.process.processIdentifier, SIGTERM)
        let close = try await socket.value
        #expect(close?.closeCode == .goingAway && close?.reason == "server_shutdown")
        first.process.waitUntilExit()
        #expect(first.process.terminationReason == .exit)
        #expect(first.process.terminationStatus == 0)
        let database = try #require(environment["SWITCHBOARD_DATABASE_PATH"])
        #expect(!FileManager.default.fileExists(atPath: database + "-wal"), "the database was closed cleanly")

        let second = try ServerProcess(environment: environment)
        var list = HTTPClientRequest(url: "http://127.0.0.1:\(second.port)/api/v1/agents")
        list.headers.add(name: "authorization", value: "Bearer \(key)")
        let agents = try await client.execute(list, timeout: .seconds(10)).body.collect(upTo: 1 << 20)
        #expect(String(buffer: agents).contains("Kept"))
        second.kill(SIGTERM)
        try await client.shutdown()
    }
}
