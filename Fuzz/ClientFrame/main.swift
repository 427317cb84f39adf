// libFuzzer target for `ClientFrame(parsing:)` (Sources/SwitchboardCore/Realtime/ClientFrame.swift): the
// text frames a WebSocket client sends. Built by scripts/fuzz together with ClientFrame.swift, Agent.swift
// (for `Agent.Status`) and the JSON files of SwitchboardCore/Support they need.
//
// Invariants checked for every input, beyond "does not crash":
//  1. The frame means what its JSON value means: that value written back by `SwitchboardJSON.encode`
//     parses to an equal frame (whitespace, escapes, number spellings and repeated keys do not matter).
//  2. Text that is not a JSON object with a string "type" is `invalid_frame` with a null id; otherwise
//     the id is the object's "id" member (or null).
//  3. An accepted command agrees with the JSON it came from (type, action, data fields, since ≥ 0),
//     its id is null, a string or an integer, and `clientID` is that string or integer in decimal.
//  4. An accepted command written back as the frame a client would send parses to an equal frame.
//  5. A refused frame carries one of the documented codes, and a field-level code names its field.
import Foundation

@inline(never)
func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("invariant broken: \(message())") }
}

func text(_ value: JSONValue) -> String {
    guard let bytes = try? SwitchboardJSON.encode(value) else { fatalError("SwitchboardJSON.encode fails for \(value)") }
    return String(decoding: bytes, as: UTF8.self)
}

/// The frame a client would send for `frame`.
func written(_ frame: ClientFrame, command: ClientFrame.Command) -> JSONValue {
    var object: [String: JSONValue] = [:]
    if frame.id != .null { object["id"] = frame.id }
    switch command {
    case .ping:
        object["type"] = "ping"
    case .subscribe(let since):
        object["type"] = "subscribe"
        object["since"] = JSONValue(since)
    case .setStatus(let status):
        object["type"] = "presence"
        object["data"] = ["status": .string(status.rawValue)]
    case .sendMessage(let message):
        object["type"] = "message"
        object["action"] = "send"
        if let conversationID = message.conversationID { object["conversation_id"] = .string(conversationID) }
        var data: [String: JSONValue] = ["from": .string(message.from), "content": .string(message.content)]
        if let to = message.to { data["to"] = .string(to) }
        if let timestamp = message.timestamp { data["timestamp"] = JSONValue(timestamp) }
        object["data"] = .object(data)
    }
    return .object(object)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let frame = ClientFrame(parsing: input)
    let json = try? JSONValue(parsing: input)

    // 2. What is not an object with a string type.
    guard case .object(let object)? = json, case .string(let type)? = object["type"] else {
        check(frame.id == .null, "a frame that is not an object with a type has the id \(frame.id): \(input.debugDescription)")
        guard case .failure(let error) = frame.command, error.code == "invalid_frame" else {
            fatalError("invariant broken: \(input.debugDescription) is not an object with a string type but reads as \(frame.command)")
        }
        return 0
    }
    check(frame.id == object["id"] ?? .null, "the id of \(input.debugDescription) reads as \(frame.id)")

    // 1. Only the JSON value matters.
    let canonical = ClientFrame(parsing: text(.object(object)))
    check(canonical == frame, "\(input.debugDescription) reads as \(frame), its canonical form \(text(.object(object))) as \(canonical)")

    switch frame.command {
    case .success(let command):
        // 3. The command agrees with the JSON.
        switch frame.id {
        case .null: check(frame.clientID == nil, "a null id gives clientID \(String(describing: frame.clientID))")
        case .string(let id): check(frame.clientID == id, "the id \(id) gives clientID \(String(describing: frame.clientID))")
        case .integer(let id): check(frame.clientID == String(id), "the id \(id) gives clientID \(String(describing: frame.clientID))")
        case .number(let number):
            check(number.rounded() == number && Int64(exactly: number) != nil, "an accepted frame has the id \(number)")
            check(frame.clientID == String(Int64(exactly: number)!), "the id \(number) gives clientID \(String(describing: frame.clientID))")
        default: fatalError("invariant broken: an accepted frame has the id \(frame.id): \(input.debugDescription)")
        }
        let dataObject: [String: JSONValue]? = if case .object(let members)? = object["data"] { members } else { nil }
        switch command {
        case .ping:
            check(type == "ping", "\(input.debugDescription) is a ping")
        case .subscribe(let since):
            check(type == "subscribe" && since >= 0 && object["since"]?.integerValue == since, "\(input.debugDescription) subscribes since \(since)")
        case .setStatus(let status):
            check(type == "presence" || (type == "event" && object["action"] == "status_change"), "\(input.debugDescription) sets a status")
            check(dataObject?["status"] == .string(status.rawValue), "\(input.debugDescription) sets the status \(status)")
        case .sendMessage(let message):
            check(type == "message" && object["action"] == "send", "\(input.debugDescription) sends a message")
            check(dataObject?["from"] == .string(message.from) && dataObject?["content"] == .string(message.content),
                  "\(input.debugDescription) reads as \(message)")
            check((dataObject?["to"] ?? .null) == (message.to.map(JSONValue.string) ?? .null), "to of \(input.debugDescription) reads as \(String(describing: message.to))")
            if let timestamp = message.timestamp {
                // The integer as written: a timestamp past 2^53 is not the Double nearest to it.
                check(dataObject?["timestamp"]?.integerValue == timestamp, "timestamp of \(input.debugDescription) reads as \(timestamp)")
            } else {
                check((dataObject?["timestamp"] ?? .null) == .null, "timestamp of \(input.debugDescription) reads as nil")
            }
            let conversation = object["conversation_id"] ?? dataObject?["conversation_id"] ?? .null
            check(conversation == (message.conversationID.map(JSONValue.string) ?? .null), "conversation of \(input.debugDescription) reads as \(String(describing: message.conversationID))")
        }
        // 4. Written back as a client would send it.
        let back = written(frame, command: command)
        let again = ClientFrame(parsing: text(back))
        check(again == frame, "\(input.debugDescription) reads as \(frame), written back as \(text(back)) as \(again)")
    case .failure(let error):
        // 5. Documented refusals.
        switch error.code {
        case "invalid_field", "missing_field":
            check(error.kind == .invalidInput && error.field != nil, "\(error) for \(input.debugDescription) names no field")
        case "unknown_frame":
            check(!["ping", "subscribe", "presence"].contains(type), "\(input.debugDescription) of a known type is refused as unknown")
        default:
            fatalError("invariant broken: \(input.debugDescription), an object with a type, is refused with \(error)")
        }
    }
    return 0
}
