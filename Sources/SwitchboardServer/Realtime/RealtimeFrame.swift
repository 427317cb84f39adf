import Foundation
import NIOCore
import SwitchboardCore

/// The JSON frames the server sends on `/ws`, in the seed's shapes plus the tenant `seq` on events.
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
        ByteBuffer(bytes: (try? SwitchboardJSON.encode(JSONValue.object(object))) ?? Array(#"{"type":"error"}"#.utf8))
    }
}
