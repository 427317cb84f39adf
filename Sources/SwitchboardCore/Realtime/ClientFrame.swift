/// One text frame a WebSocket client sends, parsed and checked before the session acts on it.
///
/// Every field is hostile until it passes here: numbers are taken only when they are exact integers
/// within range (`JSONValue.integerValue`), so no frame can make a conversion trap.
public struct ClientFrame: Sendable, Equatable {
    /// What the frame asks for.
    public enum Command: Sendable, Equatable {
        /// `{"type":"ping"}`.
        case ping
        /// `{"type":"message","action":"send","conversation_id"?,"data":{"from","to"?,"content","timestamp"?}}`.
        case sendMessage(Message)
        /// `{"type":"presence","data":{"status"}}` or `{"type":"event","action":"status_change","data":{"status"}}`.
        case setStatus(Agent.Status)
        /// `{"type":"subscribe","since":N}`: replay after seq N.
        case subscribe(since: Int64)
    }

    /// The fields of a message sent over the socket.
    public struct Message: Sendable, Equatable {
        public var conversationID: String?
        public var from: String
        public var to: String?
        public var content: String
        /// Unix seconds the client claims; range-checked by the message rules.
        public var timestamp: Int64?
    }

    /// The client's `id`, echoed in the answer; `.null` when absent or when the frame was not an object.
    public var id: JSONValue
    /// The command, or why the frame was refused.
    public var command: Result<Command, SwitchboardError>

    /// The client's `id` as an idempotency key: a string, or an integer written in decimal.
    public var clientID: String? {
        switch id {
        case .string(let text): text
        case .integer, .number: id.integerValue.map { String($0) }
        default: nil
        }
    }

    /// Parses one frame's text; never throws, a refused frame carries its error.
    public init(parsing text: String) {
        guard let frame = try? JSONValue(parsing: text), case .object(let object) = frame, case .string(let type)? = object["type"] else {
            id = .null
            command = .failure(SwitchboardError(kind: .invalidInput, code: "invalid_frame", detail: "A frame is a JSON object with a string \"type\"."))
            return
        }
        id = object["id"] ?? .null
        command = Result { () throws(SwitchboardError) -> Command in try Self.command(type: type, object) }
    }

    private static func command(type: String, _ object: [String: JSONValue]) throws(SwitchboardError) -> Command {
        switch (type, object["id"], object["action"]) {
        case (_, .some(.number), _) where object["id"]?.integerValue == nil,
            (_, .some(.bool), _), (_, .some(.array), _), (_, .some(.object), _):
            throw SwitchboardError.invalidField("id", "A frame's id is a string or an integer.")
        case ("ping", _, _):
            return .ping
        case ("message", _, .string("send")?):
            return .sendMessage(try message(object))
        case ("presence", _, _), ("event", _, .string("status_change")?):
            guard case .object(let data)? = object["data"], case .string(let text)? = data["status"], let status = Agent.Status(rawValue: text) else {
                throw SwitchboardError.invalidField("data.status", "The status must be one of online, away, busy, offline.")
            }
            return .setStatus(status)
        case ("subscribe", _, _):
            guard let since = object["since"]?.integerValue, since >= 0 else {
                throw SwitchboardError.invalidField("since", "'since' must be a non-negative integer seq.")
            }
            return .subscribe(since: since)
        default:
            throw SwitchboardError(kind: .invalidInput, code: "unknown_frame", detail: "Unknown frame type '\(type)'.", field: "type")
        }
    }

    private static func message(_ frame: [String: JSONValue]) throws(SwitchboardError) -> Message {
        guard case .object(let data)? = frame["data"] else { throw SwitchboardError.missingField("data") }
        guard case .string(let from)? = data["from"] else { throw SwitchboardError.missingField("data.from") }
        guard case .string(let content)? = data["content"] else { throw SwitchboardError.missingField("data.content") }
        let to: String?
        switch data["to"] {
        case nil, .null?: to = nil
        case .string(let text)?: to = text
        default: throw SwitchboardError.invalidField("data.to", "'to' is a participant's id.")
        }
        let timestamp: Int64?
        switch data["timestamp"] {
        case nil, .null?: timestamp = nil
        case let value?:
            guard let seconds = value.integerValue else {
                throw SwitchboardError.invalidField("data.timestamp", "'timestamp' is a whole number of Unix seconds.")
            }
            timestamp = seconds
        }
        let conversationID: String?
        switch frame["conversation_id"] ?? data["conversation_id"] {
        case nil, .null?: conversationID = nil
        case .string(let text)?: conversationID = text
        default: throw SwitchboardError.invalidField("conversation_id", "'conversation_id' is a conversation's id.")
        }
        return Message(conversationID: conversationID, from: from, to: to, content: content, timestamp: timestamp)
    }
}
