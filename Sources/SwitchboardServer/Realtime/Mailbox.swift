import NIOCore
import Synchronization

/// The frames waiting to go out on one WebSocket connection, bounded, and when the client last sent one.
///
/// Frames are encoded text (`ByteBuffer`), so one event's frame is shared by every connection it goes to.
///
/// Event frames carry their tenant `seq`; the mailbox drops any at or below the last one queued, so
/// a replay from the durable log and live delivery overlap without duplicates. While the connection
/// replays, live events wait in a side buffer and join the queue once the replay caught up.
/// - Important: Thread-safe: the hub delivers from its tail task, the session reads from its writer
///   task; all state is behind one mutex.
final class Mailbox: Sendable {
    /// Why a mailbox stopped taking frames.
    enum Closing: Sendable, Equatable {
        case overflow
        case closed
        /// The server is shutting down.
        case shutdown
        /// The client sent no data frame for the idle timeout.
        case idle
    }

    private struct State {
        var frames: [ByteBuffer] = []
        var head = 0
        var waiter: CheckedContinuation<ByteBuffer?, Never>?
        var isReplaying = true
        var held: [(seq: Int64, frame: ByteBuffer)] = []
        var lastActivity = ContinuousClock.now
        var lastSeq: Int64 = 0
        var closing: Closing?

        var count: Int { frames.count - head + held.count }
    }

    private let state = Mutex(State())
    private let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// Why the mailbox closed, if it did.
    var closing: Closing? { state.withLock { $0.closing } }

    /// The seq of the last event frame queued.
    var lastSeq: Int64 { state.withLock { $0.lastSeq } }

    /// A waiting writer and what to wake it with (nil: the mailbox closed).
    private typealias Wake = (waiter: CheckedContinuation<ByteBuffer?, Never>, frame: ByteBuffer?)

    /// Queues a frame that is not an event (pong, ack, error).
    func send(_ frame: ByteBuffer) {
        wake(state.withLock { state in enqueue(frame, in: &state) })
    }

    /// Queues a live event frame, or holds it while replaying; frames at or below the last seq are dropped.
    func deliver(seq: Int64, frame: ByteBuffer) {
        wake(
            state.withLock { state -> Wake? in
                guard state.closing == nil else { return nil }
                if state.isReplaying {
                    state.held.append((seq, frame))
                    return state.count > limit ? close(.overflow, in: &state) : nil
                }
                guard seq > state.lastSeq else { return nil }
                state.lastSeq = seq
                return enqueue(frame, in: &state)
            }
        )
    }

    /// Queues a replayed event (the replay runs in seq order); a nil frame only advances the seq, for
    /// events the principal may not see.
    func replay(seq: Int64, frame: ByteBuffer?) {
        wake(
            state.withLock { state -> Wake? in
                guard seq > state.lastSeq else { return nil }
                state.lastSeq = seq
                return frame.flatMap { enqueue($0, in: &state) }
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
            state.withLock { state -> Wake? in
                state.isReplaying = false
                let held = state.held
                state.held = []
                var wake: Wake?
                for (seq, frame) in held where seq > state.lastSeq {
                    state.lastSeq = seq
                    if let woken = enqueue(frame, in: &state) { wake = woken }
                }
                return wake
            }
        )
    }

    /// The next frame to send, waiting for one; nil once the mailbox is closed.
    func next() async -> ByteBuffer? {
        await withCheckedContinuation { continuation in
            let frame = state.withLock { state -> ByteBuffer?? in
                if state.head < state.frames.count {
                    let frame = state.frames[state.head]
                    state.head += 1
                    if state.head > 1_024, state.head * 2 > state.frames.count {
                        state.frames.removeFirst(state.head)
                        state.head = 0
                    }
                    return .some(frame)
                }
                if state.closing != nil { return .some(nil) }
                state.waiter = continuation
                return .none
            }
            if let frame { continuation.resume(returning: frame) }
        }
    }

    /// Records that the client sent a data frame.
    func touch() {
        state.withLock { $0.lastActivity = .now }
    }

    /// Closes the mailbox as idle when the client sent nothing since `deadline`.
    func closeIfIdle(since deadline: ContinuousClock.Instant) {
        wake(state.withLock { state in state.closing == nil && state.lastActivity < deadline ? close(.idle, in: &state) : nil })
    }

    /// Stops the mailbox: the writer's `next` answers nil once the queue is empty (at once on overflow).
    func close(_ reason: Closing) {
        wake(state.withLock { state in close(reason, in: &state) })
    }

    private func close(_ reason: Closing, in state: inout State) -> Wake? {
        if state.closing == nil { state.closing = reason }
        if reason == .overflow {
            state.frames = []
            state.head = 0
            state.held = []
        }
        defer { state.waiter = nil }
        return state.waiter.map { ($0, nil) }
    }

    /// Appends a frame, or hands it straight to a waiting writer.
    private func enqueue(_ frame: ByteBuffer, in state: inout State) -> Wake? {
        guard state.closing == nil else { return nil }
        if let waiter = state.waiter {
            state.waiter = nil
            return (waiter, frame)
        }
        state.frames.append(frame)
        return state.count > limit ? close(.overflow, in: &state) : nil
    }

    private func wake(_ wake: Wake?) {
        wake?.waiter.resume(returning: wake?.frame)
    }
}
