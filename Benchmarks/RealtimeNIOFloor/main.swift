// sb-bench-nio-floor: the second baseline of scripts/bench-realtime. Not part of the server.
//
//   sb-bench-nio-floor PORT
//
// Benchmarks/realtime-floor.c on SwiftNIO: the least a fan-out written on NIO's channels can do on this
// machine. It speaks just enough HTTP and WebSocket for Benchmarks/realtime-client.c: an upgrade is
// answered 101 and a "ready" frame, a POST's content goes out as a message frame of the server's size
// (434 bytes of JSON) to every subscriber and is answered 201. Each event loop writes its own
// subscribers' frames, one `writeAndFlush` per subscriber, from one task per loop and message, as the
// server's mailboxes do. No store, no JSON, no authentication, no queue: the server's CPU per delivery
// over this one's is what Switchboard adds to NIO. It trusts its client completely.
import Foundation
import NIOCore
import NIOPosix
import Synchronization

guard CommandLine.arguments.count == 2, let port = Int(CommandLine.arguments[1]), port > 0 else {
    FileHandle.standardError.write(Data("usage: sb-bench-nio-floor PORT\n".utf8))
    exit(2)
}

/// The subscribed channels by event loop, and the messages published.
final class Subscribers: Sendable {
    private let byLoop = Mutex<[ObjectIdentifier: (loop: any EventLoop, channels: [any Channel])]>([:])
    private let published = Atomic(0)

    func add(_ channel: any Channel) {
        byLoop.withLock { $0[ObjectIdentifier(channel.eventLoop), default: (channel.eventLoop, [])].channels.append(channel) }
    }

    func remove(_ channel: any Channel) {
        byLoop.withLock { $0[ObjectIdentifier(channel.eventLoop)]?.channels.removeAll { $0 === channel } }
    }

    func publish(content: String) {
        let frame = messageFrame(seq: published.add(1, ordering: .relaxed).newValue, content: content)
        for (loop, channels) in byLoop.withLock({ Array($0.values) }) {
            loop.execute {
                for channel in channels { channel.writeAndFlush(frame, promise: nil) }
            }
        }
    }
}

/// An unmasked text frame.
func frame(_ payload: [UInt8]) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.writeInteger(UInt8(0x81))
    if payload.count < 126 {
        buffer.writeInteger(UInt8(payload.count))
    } else {
        buffer.writeInteger(UInt8(126))
        buffer.writeInteger(UInt16(payload.count))
    }
    buffer.writeBytes(payload)
    return buffer
}

/// The message frame for `content`, laid out as the server's and padded to its size.
func messageFrame(seq: Int, content: String) -> ByteBuffer {
    let id = "01a22ba1-daef-70d5-9a1f-5101f4de4720"
    var text =
        #"{"action":"receive","seq":\#(seq),"data":{"client_message_id":null,"conversation_id":"\#(id)","content_type":"text/plain","to":"\#(id)","#
        + #""timestamp":1796028357,"content":"\#(content)","message_id":"\#(id)","from":"\#(id)"},"type":"message","timestamp":1796028357,"#
        + #""event_id":"\#(id)""#
    while text.utf8.count < 433 { text += " " }
    return frame(Array((text + "}").utf8))
}

final class FloorHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let upgrade = ByteBuffer(
        string:
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
    )
    static let ready = frame(Array(#"{"data":{"seq":0},"type":"ready"}"#.utf8))
    static let created = ByteBuffer(string: "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}")

    let subscribers: Subscribers
    /// Bytes of requests not handled yet, and whether the connection became a subscriber; event loop only.
    private nonisolated(unsafe) var pending = ByteBuffer()
    private nonisolated(unsafe) var isSubscriber = false

    init(subscribers: Subscribers) {
        self.subscribers = subscribers
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !isSubscriber else { return }
        var bytes = unwrapInboundIn(data)
        pending.writeBuffer(&bytes)
        while let request = nextRequest() {
            if request.head.hasPrefix("GET /ws") {
                isSubscriber = true
                context.write(wrapOutboundOut(Self.upgrade), promise: nil)
                context.writeAndFlush(wrapOutboundOut(Self.ready), promise: nil)
                subscribers.add(context.channel)
                return
            }
            let content = request.body.firstRange(of: #""content":""#).map { range in
                String(request.body[range.upperBound...].prefix { $0 != "\"" })
            }
            if let content { subscribers.publish(content: content) }
            context.writeAndFlush(wrapOutboundOut(Self.created), promise: nil)
        }
    }

    /// The next complete request in `pending`: its head and its body (by Content-Length).
    private func nextRequest() -> (head: String, body: String)? {
        let text = pending.getString(at: pending.readerIndex, length: pending.readableBytes) ?? ""
        guard let end = text.range(of: "\r\n\r\n") else { return nil }
        let head = String(text[..<end.lowerBound])
        let length =
            head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
        let headBytes = text[..<end.upperBound].utf8.count
        guard pending.readableBytes >= headBytes + length else { return nil }
        pending.moveReaderIndex(forwardBy: headBytes)
        let body = pending.readString(length: length) ?? ""
        pending.discardReadBytes()
        return (head, body)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if isSubscriber { subscribers.remove(context.channel) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

let subscribers = Subscribers()
let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
    .serverChannelOption(.backlog, value: 1024)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(FloorHandler(subscribers: subscribers))
        }
    }
    .bind(host: "127.0.0.1", port: port)
    .wait()
try channel.closeFuture.wait()
