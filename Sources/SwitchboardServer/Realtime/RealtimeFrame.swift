import Foundation
import NIOCore
import SwitchboardCore

/// The JSON frames the server sends on `/ws`, in the seed's shapes plus the tenant `seq` on events.
///
/// Each is a complete WebSocket text frame as it goes on the wire: server frames are not masked, so
/// one event's bytes serve every connection it goes to, and a mailbox writes them past the frame encoder.
enum RealtimeFrame {
    /// An event as its frame: `{"type", "action", "seq", "event_id", "timestamp", "data"}`. The seed's
    /// events keep their names (`event`/`status_change`, `message`/`receive`); others are
    /// `{"type": <resource>, "action": <verb>}` after the event type.
    static func event(_ event: Event) -> ByteBuffer {
        let (type, action): (String, String) =
            switch event.type {
            case .agentStatusChanged: ("event", "status_change")
            case .messageReceived: ("message", "receive")
            case .messageUpdated: ("message", "update")
            case .messageDeleted: ("message", "delete")
            case .conversationCreated: ("conversation", "create")
            case .conversationUpdated: ("conversation", "update")
            case .conversationEnded: ("conversation", "end")
            default: ("event", event.type.name)
            }
        return encode([
            "type": .string(type), "action": .string(action), "seq": JSONValue(event.seq), "event_id": .string(event.id),
            "timestamp": JSONValue(event.timestamp), "data": event.data,
        ])
    }

    static func pong() -> ByteBuffer {
        encode(["type": "pong", "timestamp": JSONValue(Int64(Date().timeIntervalSince1970))])
    }

    /// The answer to a client frame that was carried out; `id` is the client's id for it.
    static func ack(id: JSONValue, data: JSONValue) -> ByteBuffer {
        encode(["type": "ack", "id": id, "data": data])
    }

    static func error(id: JSONValue, code: String, message: String) -> ByteBuffer {
        encode(["type": "error", "id": id, "data": ["code": .string(code), "message": .string(message)]])
    }

    /// Sent once the connection is live: replayed up to `seq`, live events follow.
    static func ready(seq: Int64) -> ByteBuffer {
        encode(["type": "ready", "data": ["seq": JSONValue(seq)]])
    }

    private static func encode(_ object: [String: JSONValue]) -> ByteBuffer {
        let payload = (try? SwitchboardJSON.encode(JSONValue.object(object))) ?? Array(#"{"type":"error"}"#.utf8)
        // RFC 6455 §5.2: FIN and the text opcode, then the payload length in 7, 7+16 or 7+64 bits.
        var frame = ByteBuffer()
        frame.reserveCapacity(payload.count + 10)
        frame.writeInteger(UInt8(0x81))
        switch payload.count {
        case ..<126: frame.writeInteger(UInt8(payload.count))
        case ..<65_536:
            frame.writeInteger(UInt8(126))
            frame.writeInteger(UInt16(payload.count))
        default:
            frame.writeInteger(UInt8(127))
            frame.writeInteger(UInt64(payload.count))
        }
        frame.writeBytes(payload)
        return frame
    }
}
