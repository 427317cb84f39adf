#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// A plain TCP connection to the server on loopback, from `source` (another loopback address) when given.
final class RawConnection: @unchecked Sendable {
    // @unchecked: a connection is used by one thread at a time (see `offPool`).
    let descriptor: Int32

    init(port: Int, source: String? = nil) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.EMFILE) }
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            inet_pton(AF_INET, source, &local.sin_addr)
            let bound = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard bound == 0 else { close(descriptor); throw POSIXError(.EADDRNOTAVAIL) }
        }
        var remote = sockaddr_in()
        remote.sin_family = sa_family_t(AF_INET)
        remote.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr)
        let connected = withUnsafePointer(to: &remote) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard connected == 0 else { close(descriptor); throw POSIXError(.ECONNREFUSED) }
    }

    deinit { close(descriptor) }

    func send(_ text: String) {
        _ = text.utf8CString.withUnsafeBufferPointer { Glibc.send(descriptor, $0.baseAddress, $0.count - 1, Int32(MSG_NOSIGNAL)) }
    }

    /// Whether the server closed the connection within `timeout` (EOF or reset), reading and dropping
    /// whatever it answered before.
    func isClosed(within timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 4_096)
        while ContinuousClock.now < deadline {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let left = Int32(max(1, (deadline - ContinuousClock.now) / .milliseconds(1)))
            guard poll(&poller, 1, left) > 0 else { continue }
            if recv(descriptor, &buffer, buffer.count, 0) <= 0 { return true }
        }
        return false
    }

    /// The answer to a GET of `path` (status line first), as far as its first read.
    func get(_ path: String, headers: String = "") -> String? {
        send("GET \(path) HTTP/1.1\r\nHost: test\r\n\(headers)\r\n")
        var answer = ""
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        while true {
            let ready = poll(&poller, 1, 5_000)
            // A signal (a child process of another test ending) interrupts the wait; it goes on.
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { break }
            let count = recv(descriptor, &buffer, buffer.count, 0)
            guard count > 0 else { break }
            answer += String(decoding: buffer[..<count], as: UTF8.self)
            if let end = answer.range(of: "\r\n\r\n"), let length = answer.components(separatedBy: "\r\n").first(where: { $0.lowercased().hasPrefix("content-length:") }),
                let bytes = Int(length.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)),
                answer.utf8.count - answer[..<end.upperBound].utf8.count >= bytes
            {
                break
            }
        }
        return answer.isEmpty ? nil : answer
    }

    /// The status line of `get`.
    func status(_ path: String) -> String? {
        get(path)?.components(separatedBy: "\r\n").first
    }
}

/// Runs blocking socket work on a thread of its own: the server under test answers on the same
/// process's cooperative pool, which a blocked test task would starve.
func offPool<Value: Sendable>(_ work: @escaping @Sendable () throws -> Value) async throws -> Value {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}

@Suite(.timeLimit(.minutes(3))) struct ConnectionLimitTests {
    /// 500 connections that send half a request header are all closed by the header timeout, while a
    /// normal client is served throughout; a stalled body and an idle keep-alive connection are closed too.
    @Test func slowAndIdleConnectionsAreClosedWhileOthersAreServed() async throws {
        let server = try await TestServer.make {
            $0.server.headerTimeoutSeconds = 2
            $0.server.bodyTimeoutSeconds = 2
            $0.server.idleTimeoutSeconds = 2
            $0.metrics.token = "scrape"
        }
        try await server.run { client in
            let port = try #require(client.port)
            try await offPool {
                let opened = ContinuousClock.now
                let slow = try (0..<500).map { _ in try RawConnection(port: port) }
                for connection in slow { connection.send("GET /health HTTP/1.1\r\nHost: x\r\n") }
                // A normal client is served while they hang.
                for _ in 0..<5 { #expect(try RawConnection(port: port).status("/health") == "HTTP/1.1 200 OK") }
                let stalledBody = try RawConnection(port: port)
                stalledBody.send("POST /api/v1/agents HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"na")
                let idle = try RawConnection(port: port)
                #expect(idle.status("/health") == "HTTP/1.1 200 OK")
                // Answered before its body is read (401), then the body's byte, then silence: the idle timeout.
                let answeredEarly = try RawConnection(port: port)
                #expect(answeredEarly.get("/health") != nil)
                answeredEarly.send("POST /api/v1/agents HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n")
                usleep(300_000)
                answeredEarly.send("x")

                #expect(slow.allSatisfy { $0.isClosed(within: .seconds(10)) }, "every half-header connection is closed")
                #expect(ContinuousClock.now - opened >= .seconds(2), "not closed before the header timeout")
                #expect(stalledBody.isClosed(within: .seconds(10)))
                #expect(idle.isClosed(within: .seconds(10)))
                #expect(answeredEarly.isClosed(within: .seconds(10)))
                #expect(try RawConnection(port: port).status("/health") == "HTTP/1.1 200 OK")

                let metrics = try RawConnection(port: port).get("/metrics", headers: "Authorization: Bearer scrape\r\n") ?? ""
                // The header timeout closed them, not another limit: its counter holds all 500.
                let headerClosed = metrics.components(separatedBy: "\n")
                    .first { $0.hasPrefix(#"sb_connections_timed_out_total{phase="header"} "#) }
                    .flatMap { Int($0.split(separator: " ").last ?? "") }
                #expect((headerClosed ?? 0) >= 500, "header timeouts counted: \(String(describing: headerClosed))")
                #expect(metrics.contains(#"sb_connections_timed_out_total{phase="body"} 1"#))
                #expect(metrics.contains(#"sb_connections_timed_out_total{phase="idle"}"#))
            }
        }
    }

    /// One address over its limit is refused at once; another address is still served.
    @Test func oneAddressOverItsLimitIsRefusedWhileAnotherIsServed() async throws {
        let server = try await TestServer.make {
            $0.server.maxConnectionsPerAddress = 5
            $0.metrics.token = "scrape"
        }
        try await server.run { client in
            let port = try #require(client.port)
            try await offPool {
                var held = try (0..<5).map { _ in try RawConnection(port: port, source: "127.0.0.3") }
                for connection in held { #expect(connection.status("/health") == "HTTP/1.1 200 OK") }
                let over = try RawConnection(port: port, source: "127.0.0.3")
                #expect(over.isClosed(within: .seconds(5)), "the sixth connection of 127.0.0.3 is closed at once")
                #expect(try RawConnection(port: port, source: "127.0.0.2").status("/health") == "HTTP/1.1 200 OK", "127.0.0.2 is served")
                // A held connection closing makes room again.
                held.removeAll()
                let deadline = ContinuousClock.now + .seconds(5)
                var served = false
                while !served, ContinuousClock.now < deadline {
                    served = try RawConnection(port: port, source: "127.0.0.3").status("/health") == "HTTP/1.1 200 OK"
                }
                #expect(served)
                let metrics = try RawConnection(port: port, source: "127.0.0.2").get("/metrics", headers: "Authorization: Bearer scrape\r\n") ?? ""
                #expect(metrics.contains(#"sb_connections_refused_total{reason="address"}"#))
            }
        }
    }
}
