import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Writes a WebSocket connection's frames straight to its socket with `send(2)`, around NIO's write path.
///
/// One event goes to every connection of a tenant, each with cold caches: NIO's path (the pipeline, the
/// pending-writes manager, 34 reference counts per write) costs about 2 µs per delivery above the
/// kernel's `write`, a fifth of the budget (docs/benchmarks.md). Only the mailbox uses it, and only
/// while NIO holds none of the connection's bytes (`Mailbox` counts them), so the stream keeps its order.
///
/// NIO has no public accessor for a channel's descriptor. The writer takes it from the channel's
/// description (`SocketChannel { BaseSocket { fd=N } … }`) and keeps it only if the socket behind that
/// number has the channel's local and remote addresses, a pair no other socket can have; anything else
/// (another channel type, another format) leaves the connection on NIO's path, as TLS does (the mailbox
/// is told whether TLS is in its pipeline).
/// - Important: Only on the channel's event loop, and only until the channel's `channelInactive`: NIO
///   closes the descriptor on that loop, inside its `close0`, and fires `channelInactive` before that
///   call returns; code that writes from event-loop tasks (as the mailbox's drains do) never runs inside
///   it, so the number cannot belong to another socket yet.
struct SocketWriter {
    private let descriptor: CInt

    /// The writer for `channel`'s socket, or nil when it cannot be found and proven to be that socket.
    init?(channel: any Channel) {
        let description = String(describing: channel)
        guard description.hasPrefix("SocketChannel {"), let marker = description.range(of: "fd=") else { return nil }
        let digits = description[marker.upperBound...].prefix { $0.isASCII && $0.isNumber }
        guard let descriptor = CInt(digits), descriptor >= 0,
            let local = channel.localAddress, let remote = channel.remoteAddress,
            Self.address(of: descriptor, peer: false) == local,
            Self.address(of: descriptor, peer: true) == remote
        else { return nil }
        self.descriptor = descriptor
    }

    /// Sends as much of `bytes` as the socket takes without blocking.
    /// - Returns: the number of bytes sent (0 when the socket's buffer is full), or nil on an error
    ///   (a reset or closed peer), which NIO's path then meets and handles.
    func write(_ bytes: UnsafeRawBufferPointer) -> Int? {
        while true {
            let sent = send(descriptor, bytes.baseAddress, bytes.count, CInt(MSG_DONTWAIT | MSG_NOSIGNAL))
            if sent >= 0 { return sent }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return 0
            default: return nil
            }
        }
    }

    private static func address(of descriptor: CInt, peer: Bool) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                peer ? getpeername(descriptor, $0, &length) : getsockname(descriptor, $0, &length)
            }
        }
        guard status == 0 else { return nil }
        let family = CInt(storage.ss_family)
        return withUnsafePointer(to: &storage) { pointer in
            switch family {
            case AF_INET: return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { SocketAddress($0.pointee, host: "") }
            case AF_INET6: return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { SocketAddress($0.pointee, host: "") }
            default: return nil
            }
        }
    }
}
