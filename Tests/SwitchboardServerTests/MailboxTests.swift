import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import SwitchboardServer

/// The mailbox against an embedded channel whose writability the test sets.
@Suite(.timeLimit(.minutes(5))) struct MailboxTests {
    /// Records the closes the mailbox reports down the pipeline.
    final class Closings: ChannelInboundHandler, Sendable {
        typealias InboundIn = NIOAny
        let seen = Mutex<[RealtimeClose]>([])
        var all: [RealtimeClose] { seen.withLock { $0 } }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let close = event as? RealtimeClose { seen.withLock { $0.append(close) } }
        }
    }

    private func make(limit: Int) throws -> (EmbeddedChannel, Mailbox, Closings) {
        let channel = EmbeddedChannel()
        let closings = Closings()
        let mailbox = Mailbox(limit: limit, eventLoop: channel.eventLoop)
        try channel.pipeline.syncOperations.addHandlers(mailbox, closings)
        mailbox.finishReplay()
        channel.embeddedEventLoop.run()
        return (channel, mailbox, closings)
    }

    private func written(_ channel: EmbeddedChannel) throws -> [String] {
        var frames: [String] = []
        while let frame = try channel.readOutbound(as: ByteBuffer.self) { frames.append(String(buffer: frame)) }
        return frames
    }

    @Test func framesWaitWhileTheChannelIsNotWritableAndGoOutWhenItIs() throws {
        let (channel, mailbox, closings) = try make(limit: 4)
        mailbox.send(ByteBuffer(string: "a"))
        mailbox.send(ByteBuffer(string: "b"))
        channel.embeddedEventLoop.run()
        #expect(try written(channel) == ["a", "b"])

        // NIO reports every change of writability; the mailbox goes by the reports.
        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        mailbox.send(ByteBuffer(string: "c"))
        var drains = Mailbox.Drains()
        mailbox.deliver(seq: 1, frame: ByteBuffer(string: "d"), drains: &drains)
        mailbox.deliver(seq: 1, frame: ByteBuffer(string: "d again"), drains: &drains)
        drains.run()
        channel.embeddedEventLoop.run()
        #expect(try written(channel) == [])

        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        channel.embeddedEventLoop.run()
        #expect(try written(channel) == ["c", "d"], "held frames go out in order, a repeated seq once")
        #expect(closings.all == [])
    }

    @Test func anOverflowWhileNotWritableStillStartsTheClose() throws {
        let (channel, mailbox, closings) = try make(limit: 3)
        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        for index in 0..<4 { mailbox.send(ByteBuffer(string: "\(index)")) }
        channel.embeddedEventLoop.run()
        #expect(mailbox.closing == .slowConsumer)
        #expect(closings.all == [.slowConsumer], "a client that does not read must not keep its socket")
        #expect(try written(channel) == [])
    }

    @Test func aCloseLetsQueuedFramesOutFirstAndIsReportedOnce() throws {
        let (channel, mailbox, closings) = try make(limit: 8)
        mailbox.send(ByteBuffer(string: "last words"))
        mailbox.close(.idle)
        mailbox.close(.shutdown)
        mailbox.send(ByteBuffer(string: "too late"))
        channel.embeddedEventLoop.run()
        #expect(try written(channel) == ["last words"])
        #expect(closings.all == [.idle])
    }
}
