import NIOCore
import Synchronization

/// The frames waiting to go out on one WebSocket connection, bounded, and when the client last sent one.
///
/// Frames are complete WebSocket frames (`RealtimeFrame`), so one event's frame is shared by every
/// connection it goes to. The mailbox sits just before its channel's frame encoder (after TLS) and
/// writes them from there, past the encoder, on the event loop: queuing a frame schedules a drain, which
/// writes while the channel is writable and flushes once; a channel that stops being writable (a client
/// that does not read) leaves frames queued until its writability returns, and past `limit` the mailbox
/// overflows. No task waits per connection, so a delivery costs a queue append and a write; the frames
/// of one drain go out with one flush. Every byte goes through NIO's public channel API.
///
/// Event frames carry their tenant `seq`; the mailbox drops any at or below the last one queued, so
/// a replay from the durable log and live delivery overlap without duplicates. While the connection
/// replays, live events wait in a side buffer and join the queue once the replay caught up.
/// - Important: Thread-safe: the hub delivers from its tail task, the connection answers from its jobs,
///   the drain runs on the event loop; the queue is behind one mutex, and what the event loop owns (the
///   pipeline context and the writability) is `NIOLoopBoundBox`ed, checked to be touched on it.
final class Mailbox: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny

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
    /// What the event loop owns: the mailbox's place in the pipeline while it is added, and the
    /// channel's writability, kept from its events so that a drain touches neither the channel nor its
    /// atomics.
    private struct LoopState {
        var context: ChannelHandlerContext?
        var isWritable = true
    }

    private let loop: NIOLoopBoundBox<LoopState>

    /// A mailbox for a channel of `eventLoop`, writing once added before its frame encoder; once it
    /// is closing and every frame that should go out went out, its close travels down the pipeline as a
    /// user inbound event (a `RealtimeClose`), once, on the event loop, for the connection to send.
    init(limit: Int, eventLoop: any EventLoop) {
        self.limit = limit
        self.eventLoop = eventLoop
        loop = NIOLoopBoundBox(LoopState(), eventLoop: eventLoop)
    }

    /// Why the mailbox closed, if it did.
    var closing: RealtimeClose? { state.withLock { $0.closing } }

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
                // The client's idle time counts from the end of the replay, when it is told it is ready.
                state.lastActivity = .now
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

    /// Closes the mailbox as idle when the client sent nothing since `deadline`; never before its replay
    /// ended (the client waits for "ready", however long the replay or a busy database takes).
    func closeIfIdle(since deadline: ContinuousClock.Instant) {
        wake(state.withLock { state in state.closing == nil && !state.isReplaying && state.lastActivity < deadline ? close(.idle, in: &state) : false })
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
    /// always as a task of its own.
    fileprivate func drain() {
        guard let context = loop.value.context else {
            // Not added yet (handlerAdded drains) or removed with the closed channel.
            state.withLock { $0.isDraining = false }
            return
        }
        var wrote = false
        while true {
            // One frame at a time: a write can make the channel unwritable (channelWritabilityChanged).
            let (frame, finished) = state.withLock { state -> (ByteBuffer?, RealtimeClose?) in
                if state.head < state.frames.count, loop.value.isWritable {
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
                context.write(NIOAny(frame), promise: nil)
                wrote = true
                continue
            }
            if wrote { context.flush() }
            if let finished { context.fireUserInboundEventTriggered(finished) }
            return
        }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        loop.value = LoopState(context: context, isWritable: context.channel.isWritable)
        wake(state.withLock { scheduleDrain(in: &$0) })
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        loop.value.context = nil
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        let isWritable = context.channel.isWritable
        loop.value.isWritable = isWritable
        if isWritable { wake(state.withLock { scheduleDrain(in: &$0) }) }
        context.fireChannelWritabilityChanged()
    }
}
