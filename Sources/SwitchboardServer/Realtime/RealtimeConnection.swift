import Logging
import NIOCore
import NIOWebSocket
import Synchronization
import SwitchboardCore

/// One `/ws` connection after the upgrade: the handler at the end of its pipeline, after NIO's frame
/// decoder, with its `Mailbox` before the frame encoder.
///
/// It owns no task while the connection is idle. Frames are checked on the event loop by the
/// `StateMachine`; protocol pings are answered there. JSON frames become jobs, run in order by a task
/// of the session's pool that exists only while there is work: the first job registers the connection with the hub and
/// replays `?since=`, the others are the client's frames (`RealtimeSession.handle`). A client whose jobs
/// pile up (the store is slow) stops being read until they are done.
/// - Important: Thread-safe: the state machine and the close timer are `NIOLoopBoundBox`ed to the event
///   loop; the jobs and the registration are behind a mutex, shared with the job task.
final class RealtimeConnection: ChannelInboundHandler, Sendable {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private enum Job {
        case start
        case text(String)
        case binary
    }

    private struct Jobs {
        var queue: [Job] = []
        var head = 0
        var isRunning = false
        var isReadingPaused = false
        var listener: RealtimeHub.Listener?
        var isGone = false

        var count: Int { queue.count - head }

        mutating func next() -> Job? {
            guard head < queue.count else {
                queue.removeAll()
                head = 0
                isRunning = false
                return nil
            }
            head += 1
            return queue[head - 1]
        }
    }

    /// Jobs waiting beyond which the client is not read; reading resumes below `resumeReadingBelow`.
    private static let pauseReadingAt = 16
    private static let resumeReadingBelow = 4
    /// How long the client has to answer a close frame before the socket is closed.
    static let closeTimeout = Duration.seconds(15)

    let session: RealtimeSession
    let principal: Principal
    let since: Int64?
    let logger: Logger
    let mailbox: Mailbox
    private let jobs = Mutex(Jobs())
    /// What the event loop owns: the frame checks, and the timer that closes the socket when the client
    /// does not answer the server's close frame.
    private struct LoopState {
        var machine: StateMachine
        var closeTimer: Scheduled<Void>?
    }

    private let loop: NIOLoopBoundBox<LoopState>

    init(session: RealtimeSession, context: RealtimeContext, mailbox: Mailbox) {
        self.session = session
        self.principal = context.principal
        self.since = context.since
        self.logger = context.logger
        self.mailbox = mailbox
        let machine = StateMachine(
            maxMessageBytes: session.configuration.maxFrameBytes,
            framesPerSecond: session.configuration.framesPerSecond,
            now: .now
        )
        self.loop = NIOLoopBoundBox(LoopState(machine: machine), eventLoop: mailbox.eventLoop)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        enqueue(.start, context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        mailbox.touch()
        switch loop.value.machine.received(unwrapInboundIn(data), at: .now) {
        case .none:
            break
        case .text(let text):
            enqueue(.text(text), context: context)
        case .binary:
            enqueue(.binary, context: context)
        case .pong(let payload):
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: payload)), promise: nil)
        case .close(let close):
            mailbox.close(close)
        case .answerClose(let payload):
            mailbox.close(.gone)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: payload))).whenComplete { _ in
                channel.close(promise: nil)
            }
        case .closeChannel:
            context.close(promise: nil)
        }
    }

    /// The mailbox sent its last frame: the close frame follows, and the client has `closeTimeout` to answer it.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let close = event as? RealtimeClose else { return context.fireUserInboundEventTriggered(event) }
        guard close != .gone, loop.value.machine.closeDue() else { return }
        session.hub.countClose(close)
        var payload = context.channel.allocator.buffer(capacity: 2 + close.reason.utf8.count)
        payload.writeInteger(close.code)
        payload.writeString(close.reason)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: payload)), promise: nil)
        let channel = context.channel
        loop.value.closeTimer = context.eventLoop.scheduleTask(in: TimeAmount(Self.closeTimeout)) { channel.close(promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        loop.value.closeTimer?.cancel()
        loop.value.closeTimer = nil
        mailbox.close(.gone)
        let listener = jobs.withLock { jobs in
            jobs.isGone = true
            defer { jobs.listener = nil }
            return jobs.listener
        }
        if let listener { session.release(listener) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // NIO's protocol error handler already answered a bad frame with its close code.
        logger.debug("WebSocket connection error", metadata: ["sb.error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: - Jobs

    private func enqueue(_ job: Job, context: ChannelHandlerContext) {
        let (start, pause) = jobs.withLock { jobs -> (Bool, Bool) in
            jobs.queue.append(job)
            let pause = !jobs.isReadingPaused && jobs.count >= Self.pauseReadingAt
            if pause { jobs.isReadingPaused = true }
            guard !jobs.isRunning else { return (false, pause) }
            jobs.isRunning = true
            return (true, pause)
        }
        let channel = context.channel
        if pause { channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in } }
        // A pool that ended (the server stops) runs nothing more: the connection goes.
        if start, !session.jobs.start({ await self.runJobs(channel: channel) }) { context.close(promise: nil) }
    }

    private func runJobs(channel: any Channel) async {
        while let (job, resume) = jobs.withLock({ jobs -> (Job, Bool)? in
            guard let job = jobs.next() else { return nil }
            let resume = jobs.isReadingPaused && jobs.count < Self.resumeReadingBelow
            if resume { jobs.isReadingPaused = false }
            return (job, resume)
        }) {
            if resume { channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in } }
            switch job {
            case .start:
                await start()
            case .text(let text):
                guard let listener = jobs.withLock({ $0.listener }) else { continue }
                await session.handle(text, listener: listener, mailbox: mailbox)
            case .binary:
                mailbox.send(RealtimeFrame.error(id: .null, code: "binary_frame", message: "Send JSON text frames."))
            }
        }
    }

    /// Registers with the hub (or closes with the refusal's code) and replays `?since=`.
    private func start() async {
        let listener: RealtimeHub.Listener
        do {
            listener = try await session.register(principal, mailbox: mailbox, logger: logger)
        } catch {
            mailbox.close(error)
            return
        }
        let isOpen = jobs.withLock { jobs in
            if !jobs.isGone { jobs.listener = listener }
            return !jobs.isGone
        }
        guard isOpen else { return session.release(listener) }
        await session.replay(after: since, listener: listener, mailbox: mailbox)
    }
}
