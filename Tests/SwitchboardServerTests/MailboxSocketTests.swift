import Foundation
import Glibc
import NIOCore
import NIOPosix
import SwitchboardTestSupport
import Synchronization
import Testing

@testable import SwitchboardServer

/// The mailbox on a real loopback socket whose buffer fills and empties again and again: frames and the
/// connection's own writes reach the client whole and in order.
@Suite(.timeLimit(.minutes(5))) struct MailboxSocketTests {
    /// One record of the stream: its kind (`m` from the mailbox, `p` through the pipeline, as a pong
    /// would), its index, and padding of a size that varies, filled with bytes derived from the index.
    /// Records through the pipeline are large, so that NIO often holds part of one when a frame comes.
    private static func record(_ kind: Character, _ index: Int) -> ByteBuffer {
        let padding = padding(kind, index)
        var buffer = ByteBuffer()
        buffer.writeInteger(kind.asciiValue!)
        buffer.writeInteger(UInt32(index))
        buffer.writeInteger(UInt32(padding))
        buffer.writeRepeatingByte(UInt8(index % 251), count: padding)
        return buffer
    }

    private static func padding(_ kind: Character, _ index: Int) -> Int {
        (kind == "p" ? 20_000 : 1) + (index * 7919) % 3000
    }

    @Test func framesStayWholeAndInOrderWhileTheSocketBufferFillsAndEmpties() async throws {
        let accepted = Mutex<(any Channel, Mailbox)?>(nil)
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelOption(.socketOption(.so_sndbuf), value: 4096)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let mailbox = Mailbox(limit: 1_000_000, eventLoop: channel.eventLoop)
                    try channel.pipeline.syncOperations.addHandler(mailbox)
                    accepted.withLock { $0 = (channel, mailbox) }
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()

        let client = try Self.connect(to: try #require(server.localAddress?.port))
        defer { close(client) }
        try await eventually(limit: .seconds(5)) { accepted.withLock { $0 } != nil }
        let (channel, mailbox) = try #require(accepted.withLock { $0 })

        // Frames and pongs are written while the client reads, so the socket's buffer fills and empties
        // again many times, with NIO holding part of a pong now and then.
        let frames = 3000
        let pongs = 300
        let expected = (0..<frames).reduce(0) { $0 + 9 + Self.padding("m", $1) } + (0..<pongs).reduce(0) { $0 + 9 + Self.padding("p", $1) }
        let writer = Task {
            for index in 0..<frames {
                mailbox.send(Self.record("m", index))
                if index % 10 == 0 {
                    channel.writeAndFlush(Self.record("p", index / 10), promise: nil)
                    try await Task.sleep(for: .milliseconds(1))
                }
            }
        }
        // The blocking reads run on a thread of their own: on the cooperative pool they would starve the
        // writer task when the whole suite runs.
        let received = try await offPool { () throws -> [UInt8] in
            var received: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 1500)
            var reads = 0
            while received.count < expected {
                let count = recv(client, &chunk, chunk.count, 0)
                // A signal (a child process of another test ending) interrupts the read; it goes on.
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { throw POSIXError(count == 0 ? .ECONNRESET : POSIXErrorCode(rawValue: errno) ?? .EIO) }
                received += chunk[0..<count]
                reads += 1
                if reads % 50 == 0 { usleep(1_000) }
            }
            return received
        }
        try await writer.value
        #expect(received.count == expected)

        var stream = ByteBuffer(bytes: received)
        var next: [UInt8: Int] = [Character("m").asciiValue!: 0, Character("p").asciiValue!: 0]
        while stream.readableBytes > 0 {
            let header = (stream.readInteger(as: UInt8.self), stream.readInteger(as: UInt32.self), stream.readInteger(as: UInt32.self))
            let kind = try #require(header.0)
            let index = Int(try #require(header.1))
            let padding = Int(try #require(header.2))
            try #require(next[kind] == index, "record \(kind) \(index) arrived out of order or cut into")
            let bytes = stream.readBytes(length: padding)
            try #require(
                padding == Self.padding(Character(UnicodeScalar(kind)), index) && bytes == [UInt8](repeating: UInt8(index % 251), count: padding)
            )
            next[kind] = index + 1
        }
        try await server.close()
        #expect(next == [Character("m").asciiValue!: frames, Character("p").asciiValue!: pongs])
    }

    /// A blocking client socket with a small receive buffer, connected to 127.0.0.1:`port`.
    private static func connect(to port: Int) throws -> CInt {
        let client = socket(AF_INET, CInt(SOCK_STREAM.rawValue), 0)
        try #require(client >= 0)
        var size: CInt = 4096
        setsockopt(client, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<CInt>.size))
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(status == 0, "connect failed: errno \(errno)")
        return client
    }
}
