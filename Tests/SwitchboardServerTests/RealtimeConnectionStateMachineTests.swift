import NIOCore
import NIOWebSocket
import Testing

@testable import SwitchboardServer

/// The WebSocket side of a connection, frame by frame, without a socket.
@Suite(.timeLimit(.minutes(5))) struct RealtimeConnectionStateMachineTests {
    typealias Machine = RealtimeConnection.StateMachine
    let start = ContinuousClock.now

    private func frame(_ opcode: WebSocketOpcode, _ bytes: [UInt8], fin: Bool = true, masked: Bool = true) -> WebSocketFrame {
        let key: WebSocketMaskingKey? = masked ? WebSocketMaskingKey([1, 2, 3, 4]) : nil
        var data = ByteBuffer(bytes: bytes)
        if let key { data.webSocketMask(key) }
        return WebSocketFrame(fin: fin, opcode: opcode, maskKey: key, data: data)
    }

    private func text(_ string: String, fin: Bool = true) -> WebSocketFrame {
        frame(.text, Array(string.utf8), fin: fin)
    }

    /// What the machine answers to each frame, in turn.
    private func answers(_ machine: inout Machine, _ frames: [WebSocketFrame], at instant: ContinuousClock.Instant? = nil) -> [Machine.Action] {
        frames.map { machine.received($0, at: instant ?? start) }
    }

    @Test func textIsUnmaskedAndFragmentsAreJoined() {
        var machine = Machine(maxMessageBytes: 64, framesPerSecond: 10, now: start)
        let frames = [text(#"{"type":"ping"}"#), text(#"{"type":"#, fin: false), frame(.ping, [7]), frame(.continuation, Array(#""ping"}"#.utf8)), frame(.binary, [0])]
        #expect(
            answers(&machine, frames) == [.text(#"{"type":"ping"}"#), .none, .pong(ByteBuffer(bytes: [7])), .text(#"{"type":"ping"}"#), .binary],
            "control frames may come between fragments"
        )
        #expect(machine.state == .open)
    }

    @Test func protocolViolationsCloseWithTheirCodes() {
        func first(_ frames: WebSocketFrame...) -> Machine.Action {
            var machine = Machine(maxMessageBytes: 8, framesPerSecond: 10, now: start)
            return answers(&machine, frames).first { $0 != .none } ?? .none
        }
        #expect(first(frame(.text, Array("hi".utf8), masked: false)) == .close(.protocolError), "clients mask their frames")
        #expect(first(frame(.continuation, [1])) == .close(.protocolError), "a continuation needs a first fragment")
        #expect(first(text("a", fin: false), text("b")) == .close(.protocolError), "a new message inside a fragmented one")
        #expect(first(text("123456", fin: false), frame(.continuation, [1, 2, 3])) == .close(.messageTooLarge))
        #expect(first(frame(.text, [0xC3, 0x28])) == .close(.invalidText))
    }

    @Test func messagesBeyondTheRateAreRefusedAndLaterFramesIgnored() {
        var machine = Machine(maxMessageBytes: 64, framesPerSecond: 2, now: start)
        let burst = answers(&machine, Array(repeating: text("x"), count: 5))
        #expect(burst == [.text("x"), .text("x"), .text("x"), .text("x"), .close(.rateLimited)], "a burst of twice the rate")
        let afterClose = answers(&machine, [text("x"), frame(.ping, [])], at: start + .seconds(10))
        #expect(afterClose == [.none, .none], "nothing is answered after the server started its close")
        let isDue = machine.closeDue()
        #expect(isDue)
        #expect(answers(&machine, [frame(.connectionClose, [0x0F, 0xA2])]) == [.closeChannel], "the client answered the close")
    }

    @Test func aClientCloseIsAnsweredWithItsCodeAndEndsTheConnection() {
        var machine = Machine(maxMessageBytes: 64, framesPerSecond: 2, now: start)
        let close = answers(&machine, [frame(.connectionClose, [0x03, 0xE8, 0x62, 0x79, 0x65]), text("late")])
        #expect(close == [.answerClose(ByteBuffer(bytes: [0x03, 0xE8])), .none], "the code is repeated, later frames ignored")
        #expect(machine.state == .closed)
        let isDue = machine.closeDue()
        #expect(!isDue, "no second close frame after the client's")
    }

    @Test func aCloseWithABrokenOrReservedCodeIsAnsweredWith1002() {
        func answer(_ payload: [UInt8]) -> Machine.Action {
            var machine = Machine(maxMessageBytes: 64, framesPerSecond: 2, now: start)
            return answers(&machine, [frame(.connectionClose, payload)])[0]
        }
        let protocolError = Machine.Action.answerClose(ByteBuffer(bytes: [0x03, 0xEA]))
        #expect(answer([]) == .answerClose(ByteBuffer()), "no code, no code back")
        #expect(answer([0x03]) == protocolError, "one byte is not a code")
        #expect(answer([0x03, 0xED]) == protocolError, "1005 never travels in a frame")
        #expect(answer([0x03, 0xEE]) == protocolError, "nor does 1006")
        #expect(answer([0x0B, 0xB8]) == .answerClose(ByteBuffer(bytes: [0x0B, 0xB8])), "3000 is for applications")
    }

    /// RFC 6455 §8.1: a close reason that is not UTF-8 fails the connection with 1007.
    @Test func aCloseReasonThatIsNotUTF8IsAnsweredWith1007() {
        func answer(_ payload: [UInt8]) -> Machine.Action {
            var machine = Machine(maxMessageBytes: 64, framesPerSecond: 2, now: start)
            return answers(&machine, [frame(.connectionClose, payload)])[0]
        }
        let invalidText = Machine.Action.answerClose(ByteBuffer(bytes: [0x03, 0xEF]))
        #expect(answer([0x03, 0xE8, 0xFF]) == invalidText, "0xFF is never UTF-8")
        #expect(answer([0x03, 0xE8, 0xE6, 0x96]) == invalidText, "a cut multi-byte character")
        #expect(answer([0x03, 0xE8, 0xE6, 0x96, 0x87]) == .answerClose(ByteBuffer(bytes: [0x03, 0xE8])), "文 is UTF-8")
    }
}
