#if canImport(Glibc)
import Glibc
#endif
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import SwitchboardCore
import Synchronization

/// How many connections the server holds at once, in all and per client address: a client cannot take
/// every socket the process may open. Over a limit a new connection is closed at once, counted in
/// `sb_connections_refused_total{reason}`, and logged once per `logInterval` with how many were refused.
final class ConnectionLimiter: Sendable {
    /// Why a connection was refused, the metric's label.
    enum Refusal: String, Sendable, CaseIterable {
        case server
        case address
    }

    /// The most connections at once.
    let maxConnections: Int
    let maxPerAddress: Int
    let trustedProxies: [IPAddressRange]
    /// `sb_connections_refused_total{reason}`, each made at start so that it counts from 0.
    private let refused: [Refusal: Counter]
    private let logger: Logger
    private let logInterval: Duration = .seconds(10)
    private let state = Mutex(State())

    private struct State {
        var total = 0
        var byAddress: [[UInt8]: Int] = [:]
        var refusedSinceLog = 0
        var lastLog: ContinuousClock.Instant?
    }

    /// - Parameter maxConnections: the cap; 0 derives it from the file limit (`FileLimit.raise()`).
    init(maxConnections: Int, maxPerAddress: Int, trustedProxies: [IPAddressRange], metrics: any MetricsFactory, logger: Logger) {
        let files = FileLimit.raise()
        self.maxConnections = maxConnections > 0 ? maxConnections : max(64, files - max(256, files / 10))
        self.maxPerAddress = maxPerAddress
        self.trustedProxies = trustedProxies
        self.refused = Dictionary(uniqueKeysWithValues: Refusal.allCases.map { refusal in
            (refusal, Counter(label: "sb_connections_refused_total", dimensions: [("reason", refusal.rawValue)], factory: metrics))
        })
        self.logger = logger
        logger.info("Connection limits", metadata: ["sb.max_connections": "\(self.maxConnections)", "sb.file_limit": "\(files)", "sb.max_per_address": "\(maxPerAddress)"])
    }

    /// The key an address is limited under: an IPv6 address by its /64, which one subscriber usually
    /// holds whole; nil for a trusted proxy or a socket that is not IP.
    private func limitKey(_ address: [UInt8]?) -> [UInt8]? {
        guard let address, !trustedProxies.contains(where: { $0.contains(address) }) else { return nil }
        let isMapped = address.count == 16 && address[0..<10].allSatisfy { $0 == 0 } && address[10] == 0xFF && address[11] == 0xFF
        return address.count == 16 && !isMapped ? Array(address[0..<8]) : address
    }

    /// Counts a new connection from `address` (nil: not an IP socket), or says why it is refused.
    func admit(_ address: [UInt8]?) -> Refusal? {
        let limited = limitKey(address)
        let now = ContinuousClock.now
        let (refusal, report) = state.withLock { state -> (Refusal?, Int?) in
            let refusal: Refusal? =
                if state.total >= maxConnections { .server } else if let limited, state.byAddress[limited, default: 0] >= maxPerAddress { .address } else { nil }
            guard let refusal else {
                state.total += 1
                if let limited { state.byAddress[limited, default: 0] += 1 }
                return (nil, nil)
            }
            state.refusedSinceLog += 1
            guard state.lastLog.map({ now - $0 >= logInterval }) ?? true else { return (refusal, nil) }
            defer { state.refusedSinceLog = 0 }
            state.lastLog = now
            return (refusal, state.refusedSinceLog)
        }
        if let refusal {
            refused[refusal]?.increment()
            if let report {
                logger.warning(
                    "Connections refused over the connection limits",
                    metadata: ["sb.refused": "\(report)", "sb.reason": "\(refusal.rawValue)", "sb.max_connections": "\(maxConnections)"]
                )
            }
        }
        return refusal
    }

    /// Forgets a connection `admit` counted.
    func release(_ address: [UInt8]?) {
        let limited = limitKey(address)
        state.withLock { state in
            state.total -= 1
            guard let limited else { return }
            let left = state.byAddress[limited, default: 1] - 1
            state.byAddress[limited] = left > 0 ? left : nil
        }
    }

    /// Connections held now.
    var count: Int { state.withLock { $0.total } }
}

/// The process's limit on open files.
enum FileLimit {
    /// Raises the soft limit to the hard one and returns the limit the process now has.
    static func raise() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1_024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)
    }
}

/// The timeouts of an HTTP connection, on its raw bytes (before TLS), so a client that sends slowly or
/// not at all cannot hold a socket: from a request's first byte (for a new connection, from its start)
/// to the end of its headers, between reads of its body, and while a keep-alive connection waits for
/// its next request. `RequestPhaseObserver`, after the HTTP decoder, tells it where a request is; a
/// connection that upgrades to a WebSocket leaves these timeouts for the session's own.
final class ConnectionDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    struct Limits: Sendable {
        var header: TimeAmount
        var body: TimeAmount
        var idle: TimeAmount
    }

    /// Where the connection is, which decides its timeout.
    enum Phase: String {
        /// Waiting for the next request on a kept-alive connection: the idle timeout.
        case idle
        /// Between a request's first byte (a new connection's start) and the end of its headers.
        case header
        /// Reading a request's body.
        case body
        /// The request is being answered: no timeout of ours.
        case handling
        /// Upgraded or closing.
        case off
    }

    private let limits: Limits
    private let metrics: any MetricsFactory
    private var phase = Phase.header
    /// Whether the current request was read to its end, and whether its answer was written to its end:
    /// an answer may end first (a 401 or 413 before the body is read).
    private var requestComplete = false
    private var responseComplete = false
    /// When the current phase times out; nil: it does not.
    private var deadline: NIODeadline?
    /// The connection's one timer and when it fires: a phase change only moves `deadline`, and the
    /// timer is scheduled again only when it would fire too late (scheduling and cancelling a NIO timer
    /// at every phase of every request cost hello-world 5-8 %).
    private var timer: Scheduled<Void>?
    private var timerFires: NIODeadline?
    private var context: ChannelHandlerContext?

    init(limits: Limits, metrics: any MetricsFactory) {
        self.limits = limits
        self.metrics = metrics
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        arm(limits.header)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        enter(.off, timeout: nil)
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch phase {
        case .idle: enter(.header, timeout: limits.header)
        case .body: arm(limits.body)
        case .header, .handling, .off: break
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        enter(.off, timeout: nil)
        context.fireChannelInactive()
    }

    /// The request's headers are complete.
    func headReceived() {
        guard phase != .off else { return }
        requestComplete = false
        responseComplete = false
        enter(.body, timeout: limits.body)
    }

    /// The request is complete: it is being answered, or, answered already, the next is awaited.
    func requestEnded() {
        guard phase != .off else { return }
        requestComplete = true
        if responseComplete { enter(.idle, timeout: limits.idle) } else { enter(.handling, timeout: nil) }
    }

    /// The answer is written: once the request was read to its end too, wait for the next request.
    func responseEnded() {
        guard phase != .off else { return }
        responseComplete = true
        if requestComplete { enter(.idle, timeout: limits.idle) }
    }

    /// The connection has timeouts of its own from now on.
    func stop() { enter(.off, timeout: nil) }

    private func enter(_ next: Phase, timeout: TimeAmount?) {
        phase = next
        if next == .off {
            deadline = nil
            timer?.cancel()
            timer = nil
            timerFires = nil
        } else if let timeout {
            arm(timeout)
        } else {
            deadline = nil
        }
    }

    private func arm(_ timeout: TimeAmount) {
        deadline = .now() + timeout
        schedule()
    }

    /// Schedules the timer for `deadline` unless it already fires no later.
    private func schedule() {
        guard let due = deadline, let context, timerFires.map({ $0 > due }) ?? true else { return }
        timer?.cancel()
        timerFires = due
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: due) { [weak self] in self?.fire() }
    }

    /// The timer fired: the phase timed out, or its deadline moved later and the timer goes again.
    private func fire() {
        timer = nil
        timerFires = nil
        guard let due = deadline, let context, phase != .off else { return }
        guard due <= .now() else { return schedule() }
        Counter(label: "sb_connections_timed_out_total", dimensions: [("phase", phase.rawValue)], factory: metrics).increment()
        phase = .off
        context.close(promise: nil)
    }
}

/// Tells the connection's `ConnectionDeadlineHandler` where each request is: placed after the HTTP
/// request decoder, it sees the parsed request and the answer's parts.
final class RequestPhaseObserver: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart

    private let deadline: ConnectionDeadlineHandler

    init(deadline: ConnectionDeadlineHandler) {
        self.deadline = deadline
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: deadline.headReceived()
        case .body: break
        case .end: deadline.requestEnded()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { deadline.responseEnded() }
        context.write(data, promise: promise)
    }

    /// Removed when the connection upgrades to a WebSocket, whose session keeps its own idle timeout.
    func handlerRemoved(context: ChannelHandlerContext) {
        deadline.stop()
    }
}
