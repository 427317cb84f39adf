import NIOCore
import Synchronization

/// The frames waiting to go out on one WebSocket connection, bounded, and when the client last sent one.
///
/// Frames are complete WebSocket frames (`RealtimeFrame`), so one event's frame is shared by every
/// connection it goes to. The mailbox sits just before its channel's frame encoder (after TLS) and
/// writes them from there, past the encoder, on the event loop: queuing a frame schedules a drain, which
/// writes while the channel is writable and flushes once; a channel that stops being writable (a client
/// that does not read) leaves frames queued until its writability returns, and past `limit` the mailbox
/// overflows. No task waits per connection, so a delivery costs a queue append and a socket write.
/// Without TLS that write is a `send(2)` on the socket itself (`SocketWriter`) whenever NIO holds none of
/// the connection's bytes; every write that goes through NIO (a frame the socket did not take whole, the
/// connection's pongs and closes, which pass the mailbox as an outbound handler) is counted until done.
///
/// Event frames carry their tenant `seq`; the mailbox drops any at or below the last one queued, so
/// a replay from the durable log and live delivery overlap without duplicates. While the connection
/// replays, live events wait in a side buffer and join the queue once the replay caught up.
/// - Important: Thread-safe: the hub delivers from its tail task, the connection answers from its jobs,
///   the drain runs on the event loop; the queue is behind one mutex, the pipeline context, the
///   writability, the socket and the count of writes in NIO are only touched on the event loop.
final class Mailbox: ChannelDuplexHandler, Sendable {
    typealias InboundIn = NIOAny
    typealias OutboundIn = NIOAny

    private struct State {
        var frames: [ByteBuffer] = []
        var head = 0
        var isDraining = false
        var isReplaying = true
        var held: [(seq: Int64, frame: ByteBuffer)] = []
        var lastActivity = ContinuousClock.now
        var lastSeq: Int64 = 0
        var closing: RealtimeClose?
        /// Whether the close was reported.
        var isFinished = false

        var count: Int { frames.count - head + held.count }
    }

    private let state = Mutex(State())
    private let limit: Int
    let eventLoop: any EventLoop
    /// The mailbox's place in the pipeline while it is added; only touched on the event loop.
    private nonisolated(unsafe) var context: ChannelHandlerContext?
    /// The channel's writability, kept from its events so that a drain touches neither the channel
    /// nor its atomics; only touched on the event loop.
    private nonisolated(unsafe) var isWritable = true
    /// Whether frames may go straight to the socket (`SocketWriter`): only with nothing between the
    /// mailbox and the socket that changes bytes (no TLS).
    private let writesToSocket: Bool
    /// The connection's socket while frames go straight to it; only touched on the event loop.
    private nonisolated(unsafe) var socket: SocketWriter?
    /// Writes handed to NIO and not finished yet: while there are any, frames go through NIO too, after
    /// them, so that the stream keeps its order; only touched on the event loop.
    private nonisolated(unsafe) var writesInNIO = 0

    /// A mailbox for a channel of `eventLoop`, writing once added before its frame encoder; once it
    /// is closing and every frame that should go out went out, its close travels down the pipeline as a
    /// user inbound event (a `RealtimeClose`), once, on the event loop, for the connection to send.
    /// - Parameter writesToSocket: whether nothing between the mailbox and the socket changes bytes, so
    ///   that frames may be sent to the socket directly.
    init(limit: Int, eventLoop: any EventLoop, writesToSocket: Bool) {
        self.limit = limit
        self.eventLoop = eventLoop
        self.writesToSocket = writesToSocket
    }

    /// Why the mailbox closed, if it did.
    var closing: RealtimeClose? { state.withLock { $0.closing } }

    /// Whether frames go straight to the socket (`SocketWriter`) rather than through NIO; read it on the
    /// event loop.
    var sendsToSocket: Bool { socket != nil }

    /// The seq of the last event frame queued.
    var lastSeq: Int64 { state.withLock { $0.lastSeq } }

    /// Queues a frame that is not an event (pong, ack, error).
    func send(_ frame: ByteBuffer) {
        wake(state.withLock { state in enqueue(frame, in: &state) })
    }

    /// Queues a live event frame, or holds it while replaying; frames at or below the last seq are dropped.
    /// The drain it needs joins `drains`, which the caller runs after handing out its events.
    func deliver(seq: Int64, frame: ByteBuffer, drains: inout Drains) {
        let needsDrain = state.withLock { state -> Bool in
            guard state.closing == nil else { return false }
            if state.isReplaying {
                state.held.append((seq, frame))
                return state.count > limit ? close(.slowConsumer, in: &state) : false
            }
            guard seq > state.lastSeq else { return false }
            state.lastSeq = seq
            return enqueue(frame, in: &state)
        }
        if needsDrain { drains.add(self) }
    }

    /// Mailboxes that need a drain after one publication, drained by one task per event loop rather
    /// than one per mailbox.
    struct Drains {
        private var byLoop: [(loop: any EventLoop, mailboxes: [Mailbox])] = []

        init() {}

        mutating func add(_ mailbox: Mailbox) {
            // A server has a few event loops: a scan beats hashing for each delivery.
            if let index = byLoop.firstIndex(where: { $0.loop === mailbox.eventLoop }) {
                byLoop[index].mailboxes.append(mailbox)
            } else {
                byLoop.append((mailbox.eventLoop, [mailbox]))
            }
        }

        func run() {
            for (loop, mailboxes) in byLoop {
                loop.execute { for mailbox in mailboxes { mailbox.drain() } }
            }
        }
    }

    /// Queues a replayed event (the replay runs in seq order); a nil frame only advances the seq, for
    /// events the principal may not see.
    func replay(seq: Int64, frame: ByteBuffer?) {
        wake(
            state.withLock { state -> Bool in
                guard seq > state.lastSeq else { return false }
                state.lastSeq = seq
                return frame.map { enqueue($0, in: &state) } ?? false
            }
        )
    }

    /// Starts a replay after `seq`: live events are held until `finishReplay`.
    func beginReplay(after seq: Int64) {
        state.withLock { state in
            state.isReplaying = true
            state.lastSeq = seq
        }
    }

    /// Ends the replay: held events newer than the replayed ones join the queue.
    func finishReplay() {
        wake(
            state.withLock { state -> Bool in
                state.isReplaying = false
                let held = state.held
                state.held = []
                var wake = false
                for (seq, frame) in held where seq > state.lastSeq {
                    state.lastSeq = seq
                    if enqueue(frame, in: &state) { wake = true }
                }
                return wake
            }
        )
    }

    /// Records that the client sent a data frame.
    func touch() {
        state.withLock { $0.lastActivity = .now }
    }

    /// Closes the mailbox as idle when the client sent nothing since `deadline`.
    func closeIfIdle(since deadline: ContinuousClock.Instant) {
        wake(state.withLock { state in state.closing == nil && state.lastActivity < deadline ? close(.idle, in: &state) : false })
    }

    /// Stops the mailbox: queued frames still go out (none for a slow consumer), then the close is reported.
    func close(_ reason: RealtimeClose) {
        wake(state.withLock { state in close(reason, in: &state) })
    }

    /// Marks the mailbox closing; returns whether a drain has to be scheduled.
    private func close(_ reason: RealtimeClose, in state: inout State) -> Bool {
        if state.closing == nil { state.closing = reason }
        if reason == .slowConsumer {
            state.frames = []
            state.head = 0
            state.held = []
        }
        return scheduleDrain(in: &state)
    }

    /// Appends a frame; returns whether a drain has to be scheduled.
    private func enqueue(_ frame: ByteBuffer, in state: inout State) -> Bool {
        guard state.closing == nil else { return false }
        state.frames.append(frame)
        return state.count > limit ? close(.slowConsumer, in: &state) : scheduleDrain(in: &state)
    }

    /// Whether a drain has to be scheduled: none is pending and the close was not reported yet.
    private func scheduleDrain(in state: inout State) -> Bool {
        guard !state.isDraining, !state.isFinished else { return false }
        state.isDraining = true
        return true
    }

    private func wake(_ drains: Bool) {
        if drains { eventLoop.execute { self.drain() } }
    }

    /// Writes queued frames while the channel is writable; once the queue is empty (an overflow empties
    /// it at once) and the mailbox is closing, reports the close, writable or not. Runs on the event loop,
    /// always as a task of its own and never inside a NIO call, so a socket write here cannot come between
    /// NIO closing the descriptor and `channelInactive`.
    fileprivate func drain() {
        guard let context else {
            // Not added yet (handlerAdded drains) or removed with the closed channel.
            state.withLock { $0.isDraining = false }
            return
        }
        var wrote = false
        while true {
            // One frame at a time: a write can make the channel unwritable (channelWritabilityChanged).
            let (frame, finished) = state.withLock { state -> (ByteBuffer?, RealtimeClose?) in
                if state.head < state.frames.count, isWritable {
                    let frame = state.frames[state.head]
                    state.head += 1
                    if state.head == state.frames.count {
                        state.frames.removeAll(keepingCapacity: state.frames.count <= 64)
                        state.head = 0
                    }
                    return (frame, nil)
                }
                state.isDraining = false
                // Frames left while not writable wait for channelWritabilityChanged.
                guard state.head == state.frames.count, let closing = state.closing, !state.isFinished else { return (nil, nil) }
                state.isFinished = true
                return (nil, closing)
            }
            if let frame {
                if write(frame, context: context) { wrote = true }
                continue
            }
            if wrote { context.flush() }
            if let finished { context.fireUserInboundEventTriggered(finished) }
            return
        }
    }

    /// Writes one frame: to the socket when NIO holds none of the connection's bytes, otherwise (or for
    /// what the socket did not take) through NIO. Returns whether NIO needs a flush.
    private func write(_ frame: ByteBuffer, context: ChannelHandlerContext) -> Bool {
        var rest = frame
        if writesInNIO == 0, let socket {
            if let sent = rest.withUnsafeReadableBytes({ socket.write($0) }) {
                if sent == rest.readableBytes { return false }
                rest.moveReaderIndex(forwardBy: sent)
            } else {
                // The socket failed: NIO meets the same error with this frame and closes the channel.
                self.socket = nil
            }
        }
        writeThroughNIO(NIOAny(rest), context: context, promise: nil)
        return true
    }

    /// Hands a write to NIO, counted until it is done while frames may go to the socket.
    private func writeThroughNIO(_ data: NIOAny, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        guard socket != nil else { return context.write(data, promise: promise) }
        let done = promise ?? context.eventLoop.makePromise()
        writesInNIO += 1
        done.futureResult.whenComplete { _ in self.writesInNIO -= 1 }
        context.write(data, promise: done)
    }

    /// The connection's own frames (pongs, closes) pass here on their way to the socket.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        writeThroughNIO(data, context: context, promise: promise)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        isWritable = context.channel.isWritable
        if writesToSocket, let socket = SocketWriter(channel: context.channel) {
            self.socket = socket
            // The upgrade's response may still be in NIO: frames go to the socket once it is out.
            writeThroughNIO(NIOAny(ByteBuffer()), context: context, promise: nil)
            context.flush()
        }
        wake(state.withLock { scheduleDrain(in: &$0) })
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        socket = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        // NIO closed the descriptor: its number may soon belong to another socket.
        socket = nil
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        isWritable = context.channel.isWritable
        if isWritable { wake(state.withLock { scheduleDrain(in: &$0) }) }
        context.fireChannelWritabilityChanged()
    }
}
