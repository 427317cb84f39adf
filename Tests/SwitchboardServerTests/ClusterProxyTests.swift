import AsyncHTTPClient
import Foundation
import NIOCore
import SwitchboardCore
import SwitchboardTestSupport
import Synchronization
import Testing

/// Three nodes on one PostgreSQL database behind haproxy running the shipped `Config/haproxy.cfg`.
@Suite(.timeLimit(.minutes(5))) struct ClusterProxyTests {
    typealias Deployment = PostgresDeploymentTests

    /// haproxy with `Config/haproxy.cfg` in front of `ports`, on a port of its own; returned once it
    /// passes requests to every node.
    static func haproxy(in front: [Int]) async throws -> (process: SpawnedProcess, port: Int) {
        let executable = "/usr/sbin/haproxy"
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw FixtureError(message: "haproxy is missing: apt-get install haproxy (scripts/test installs it)")
        }
        let config = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Config/haproxy.cfg").standardized.path
        let port = try freeLoopbackPort()
        var environment = ProcessInfo.processInfo.environment
        environment["SB_LISTEN"] = "127.0.0.1:\(port)"
        for (index, node) in front.enumerated() { environment["SB_NODE\(index + 1)"] = "127.0.0.1:\(node)" }
        let process = try startDaemon(executable, ["-db", "-f", config], environment: environment)
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { _ = client.shutdown() }
        // Every node is in once it passed two checks; until then some requests find no server.
        do {
            try await waitForDaemon("haproxy", seconds: 20) {
                for _ in 0..<(2 * front.count) {
                    guard let response = try? await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/ready"), timeout: .seconds(2)),
                        response.status == .ok
                    else { return false }
                    _ = try? await response.body.collect(upTo: 1 << 16)
                }
                return true
            }
        } catch {
            stopDaemon(process)
            throw error
        }
        return (process, port)
    }

    /// The settings every node gets behind the proxy: X-Forwarded-For trusted from it (loopback) only.
    static let behindProxy = ["SWITCHBOARD_SECURITY_TRUSTED_PROXIES": "127.0.0.1"]

    @Test func aKilledNodesSocketsReconnectThroughTheProxyWithSinceAndMissNothing() async throws {
        let (servers, key, _) = try ClusterTests.nodes(extra: Self.behindProxy)
        let killed = Shared(false)
        defer { for (index, server) in servers.enumerated() where index != 0 || !killed.withLock({ $0 }) { server.kill() } }
        let proxy = try await Self.haproxy(in: servers.map(\.port))
        defer { stopDaemon(proxy.process) }
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { _ = client.shutdown() }
        let conversation = try await Deployment.conversation(client, port: proxy.port, key: key)

        let total = 60
        let reconnects = Shared(0)
        // Six clients through the proxy (two per node, in turn), each from the start of the log; one
        // whose socket ends reconnects from the last seq it saw, until the closing message reached it
        // (the log is in order: everything before it did too).
        let received = try await withThrowingTaskGroup(of: [String].self, returning: [Int].self) { group in
            for _ in 0..<6 {
                group.addTask {
                    var since = 0
                    let collected = Shared<(ids: [String], seqs: [Int], isDone: Bool)>(([], [], false))
                    while !collected.withLock({ $0.isDone }) {
                        _ = try? await withSocket(port: proxy.port, query: "token=\(key)&since=\(since)") { socket in
                            while let frame = try await socket.next() {
                                guard frame["type"]?.string == "message", let id = frame["data"]?["message_id"]?.string, let seq = frame["seq"]?.int else {
                                    continue
                                }
                                let isLast = frame["data"]?["content"]?.string == "last"
                                collected.withLock { $0.ids.append(id); $0.seqs.append(seq); $0.isDone = isLast }
                                if isLast { return }
                            }
                        }
                        since = collected.withLock { $0.seqs.last } ?? since
                        if !collected.withLock({ $0.isDone }) { reconnects.withLock { $0 += 1 } }
                    }
                    let (ids, seqs, _) = collected.withLock { $0 }
                    #expect(seqs == seqs.sorted() && Set(seqs).count == seqs.count, "in order, each once")
                    return ids
                }
            }
            var acknowledged: [String] = []
            for count in 0..<total {
                if count == total / 3 {
                    servers[0].kill()
                    killed.withLock { $0 = true }
                }
                let answer = await Deployment.post(client, port: proxy.port, key: key, "/messages", Deployment.message(conversation, "p\(count)"))
                if answer.status == 201, let id = answer.id { acknowledged.append(id) }
            }
            let last = await Deployment.post(client, port: proxy.port, key: key, "/messages", Deployment.message(conversation, "last"))
            #expect(last.status == 201)
            let answered = acknowledged
            let lists = try await group.reduce(into: [[String]]()) { $0.append($1) }
            #expect(answered.count >= total - 2, "a request in flight to the killed node may fail; the rest succeed (\(answered.count) of \(total))")
            return lists.map { Set(answered).subtracting($0).count }
        }
        #expect(received == Array(repeating: 0, count: 6), "acknowledged messages each client missed")
        #expect(reconnects.withLock { $0 } >= 2, "the killed node's clients (two of six) reconnected")
    }

    @Test func aKeysRateLimitHoldsAcrossThreeNodes() async throws {
        // 600 a minute per credential; the tenant and address limits far above it.
        let limits = [
            "SWITCHBOARD_SECURITY_RATE_LIMIT_PER_CREDENTIAL": "600", "SWITCHBOARD_SECURITY_RATE_LIMIT_PER_TENANT": "1000000",
            "SWITCHBOARD_SECURITY_RATE_LIMIT_PER_ADDRESS": "1000000",
        ]
        let (servers, key, settings) = try ClusterTests.nodes(extra: Self.behindProxy.merging(limits) { $1 })
        defer { for server in servers { server.kill() } }
        let store = try openStore(settings)
        defer { store.close() }
        // Each node splits the quota once its heartbeat saw the three (every 2 s).
        try await eventually(limit: .seconds(20), every: .milliseconds(200)) {
            try await store.nodes().count { Date().timeIntervalSince($0.heartbeatAt) < 2 } == 3
        }
        try await Task.sleep(for: .seconds(2.5))
        let proxy = try await Self.haproxy(in: servers.map(\.port))
        defer { stopDaemon(proxy.process) }
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { _ = client.shutdown() }

        // 1,500 requests as fast as 8 clients go: more than one limiter allows in the time they take,
        // however slow the machine (the quota, then 10 a second).
        let started = ContinuousClock.now
        let sent = Shared(0)
        let counts = try await withThrowingTaskGroup(of: (accepted: Int, refused: Int).self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var accepted = 0
                    var refused = 0
                    while sent.withLock({ sent in defer { sent += 1 }; return sent < 1_500 }) {
                        switch await Deployment.call(client, .GET, port: proxy.port, key: key, "/agents?limit=1").status {
                        case 200: accepted += 1
                        case 429: refused += 1
                        case let other: Issue.record("unexpected status \(other)")
                        }
                    }
                    return (accepted, refused)
                }
            }
            return try await group.reduce(into: (accepted: 0, refused: 0)) { $0.accepted += $1.accepted; $0.refused += $1.refused }
        }
        let duration = ContinuousClock.now - started
        let elapsed = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        // One limiter (GCRA) lets a fresh key spend its whole quota at once, then 600 a minute: the
        // cluster must come within 10 % of that.
        let expected = min(1_500, 600 + elapsed * 10)
        let ratio = Double(counts.accepted) / expected
        #expect(counts.refused > 0, "the load exceeded the quota")
        #expect((0.9...1.1).contains(ratio), "accepted \(counts.accepted) in \(elapsed) s, \(ratio)x of the \(expected) one limiter allows")
    }
}
