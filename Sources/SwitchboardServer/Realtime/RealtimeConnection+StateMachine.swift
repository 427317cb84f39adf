import NIOCore
import NIOWebSocket

extension RealtimeConnection {
    /// The WebSocket side of one connection, without I/O: validates the client's frames, joins
    /// fragmented messages, admits data messages at the frame rate, answers control frames and runs
    /// the close handshake (RFC 6455 §5 and §7).
    ///
    /// Each event returns what the connection does next; a close the server starts goes through the
    /// mailbox, so that the frames queued before it go out first.
    struct StateMachine {
        enum State: Equatable {
            case open
            /// The server started a close: data frames are ignored until the client's close frame.
            case closing
            /// Close frames went both ways, or the client closed first.
            case closed
        }

        /// What the connection does with one received frame.
        enum Action: Equatable {
            case none
            /// A complete text message, for the session.
            case text(String)
            /// A complete binary message, which the protocol does not use.
            case binary
            /// Answer a protocol ping with this payload.
            case pong(ByteBuffer)
            /// Start a close through the mailbox.
            case close(RealtimeClose)
            /// Answer the client's close with this payload, then close the channel.
            case answerClose(ByteBuffer)
            /// The client answered the server's close: close the channel.
            case closeChannel
        }

        private(set) var state = State.open
        private let maxMessageBytes: Int
        private var bucket: FrameBucket
        /// The opcode and bytes of a fragmented message being joined.
        private var fragments: (opcode: WebSocketOpcode, data: ByteBuffer)?

        init(maxMessageBytes: Int, framesPerSecond: Int, now: ContinuousClock.Instant) {
            self.maxMessageBytes = maxMessageBytes
            self.bucket = FrameBucket(perSecond: framesPerSecond, now: now)
        }

        mutating func received(_ frame: WebSocketFrame, at now: ContinuousClock.Instant) -> Action {
            guard state != .closed else { return .none }
            // Clients mask every frame; no extension was negotiated, so no reserved bit is set.
            guard frame.maskKey != nil, !frame.rsv1, !frame.rsv2, !frame.rsv3 else { return close(.protocolError) }
            switch frame.opcode {
            case .connectionClose:
                guard state == .open else {
                    state = .closed
                    return .closeChannel
                }
                state = .closed
                // The answer repeats the client's status code (RFC 6455 §5.5.1), without its reason; a
                // one-byte payload or a code that may not travel on the wire (§7.4) is answered with 1002,
                // a reason that is not UTF-8 with 1007.
                var payload = frame.unmaskedData
                guard payload.readableBytes > 0 else { return .answerClose(ByteBuffer()) }
                guard let code = payload.readInteger(as: UInt16.self), Self.isSendable(code) else {
                    return .answerClose(ByteBuffer(integer: RealtimeClose.protocolError.code))
                }
                // A reason must be UTF-8 (§5.5.1); one that is not is answered with 1007 (§7.4.1).
                guard String(validating: payload.readableBytesView, as: UTF8.self) != nil else {
                    return .answerClose(ByteBuffer(integer: RealtimeClose.invalidText.code))
                }
                return .answerClose(ByteBuffer(integer: code))
            case .ping:
                return state == .open ? .pong(frame.unmaskedData) : .none
            case .pong:
                return .none
            case .text, .binary:
                guard state == .open else { return .none }
                guard fragments == nil else { return close(.protocolError) }
                guard frame.fin else {
                    fragments = (frame.opcode, frame.unmaskedData)
                    return frame.length > maxMessageBytes ? close(.messageTooLarge) : .none
                }
                return message(frame.opcode, frame.unmaskedData, at: now)
            case .continuation:
                guard state == .open else { return .none }
                guard let (opcode, joined) = fragments else { return close(.protocolError) }
                fragments = nil
                guard joined.readableBytes + frame.length <= maxMessageBytes else { return close(.messageTooLarge) }
                var data = joined
                var more = frame.unmaskedData
                data.writeBuffer(&more)
                guard frame.fin else {
                    fragments = (opcode, data)
                    return .none
                }
                return message(opcode, data, at: now)
            default:
                return close(.protocolError)
            }
        }

        /// The mailbox sent every frame before `close`: whether the close frame goes out now (not
        /// when the client already closed).
        mutating func closeDue() -> Bool {
            guard state != .closed else { return false }
            state = .closing
            return true
        }

        /// Whether a close code may be sent in a close frame: 1000–1003, 1007–1011, 3000–4999.
        private static func isSendable(_ code: UInt16) -> Bool {
            switch code {
            case 1000...1003, 1007...1011, 3000...4999: true
            default: false
            }
        }

        private mutating func message(_ opcode: WebSocketOpcode, _ data: ByteBuffer, at now: ContinuousClock.Instant) -> Action {
            guard bucket.admit(at: now) else { return close(.rateLimited) }
            guard opcode == .text else { return .binary }
            guard let text = String(validating: data.readableBytesView, as: UTF8.self) else { return close(.invalidText) }
            return .text(text)
        }

        private mutating func close(_ close: RealtimeClose) -> Action {
            state = .closing
            fragments = nil
            return .close(close)
        }
    }
}

/// A token bucket of client frames: `perSecond`, bursts of twice as many.
struct FrameBucket {
    let perSecond: Double
    var tokens: Double
    var last: ContinuousClock.Instant

    init(perSecond: Int, now: ContinuousClock.Instant) {
        self.perSecond = Double(perSecond)
        self.tokens = Double(perSecond) * 2
        self.last = now
    }

    mutating func admit(at now: ContinuousClock.Instant) -> Bool {
        tokens = min(perSecond * 2, tokens + (now - last) / .seconds(1) * perSecond)
        last = now
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}
