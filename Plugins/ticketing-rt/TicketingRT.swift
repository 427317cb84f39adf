// ticketing-rt: tickets in Request Tracker 5 over its REST2 API.
//
// `ticketing.create_ticket` creates the ticket in the configured queue and answers its RT id;
// `ticketing.sync` reads the status and owner of the tickets the host names and answers them with the
// Switchboard status they map to; `inbound.receive` takes a status change an RT scrip posts to the
// host's inbound route, verified by a shared token. All HTTP goes through the host's client (timeouts,
// SSRF guard).
import CSwitchboardPlugin
import Foundation
import Synchronization

nonisolated(unsafe) private var host: UnsafePointer<sb_host_api>!

private let manifest: StaticString = """
    {"id":"ticketing-rt","version":"1.0.0","name":"Request Tracker",
    "description":"Creates tickets in Request Tracker 5 (REST2) and brings their status back.",
    "capabilities":["ticketing"],"services":["log","http"],
    "call_timeout_ms":20000,"http_timeout_ms":10000,
    "config_schema":{"type":"object","additionalProperties":false,"required":["url"],
      "properties":{
        "url":{"type":"string","pattern":"^https?://[^/?#]+(/[^?#]*[^/?#])?/?$","description":"RT's base URL, e.g. https://rt.example.com or http://host/rt"},
        "queue":{"type":"string","minLength":1,"maxLength":200,"default":"General","description":"The queue new tickets go to."},
        "username":{"type":"string","minLength":1,"maxLength":200,"description":"An RT user, with password (HTTP Basic)."},
        "password":{"type":"string","maxLength":1024,"writeOnly":true},
        "token":{"type":"string","minLength":1,"maxLength":1024,"writeOnly":true,"description":"An RT auth token, instead of username and password."},
        "inbound_token":{"type":"string","minLength":16,"maxLength":256,"writeOnly":true,"description":"Bearer token RT scrips send to the inbound route; absent: no inbound requests."}}}}
    """

/// RT's statuses of the default lifecycle, mapped onto Switchboard's; other (custom) statuses count as open.
private let statusMap = ["new": "new", "open": "open", "stalled": "pending", "resolved": "resolved", "rejected": "closed", "deleted": "closed"]
private let priorityMap = ["low": 25, "normal": 50, "high": 75, "urgent": 100]

/// One tenant's instance: where RT is, how to sign in, and how the last request went (for `health`).
private final class Instance: @unchecked Sendable {
    // @unchecked: `context` is immutable and the ABI lets host services use it from any thread; the
    // rest is behind mutexes.
    struct Settings {
        var url: String
        var queue: String
        var authorization: String
        var inboundToken: String?
    }

    let context: OpaquePointer
    let settings: Mutex<Settings>
    let lastOutcome = Mutex<(ok: Bool, detail: String)>((true, "no request yet"))

    init(context: OpaquePointer, settings: Settings) {
        self.context = context
        self.settings = Mutex(settings)
    }

    static func settings(_ config: [String: Any]) -> Result<Settings, ConfigError> {
        let url = (config["url"] as? String ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let queue = config["queue"] as? String ?? "General"
        let inbound = config["inbound_token"] as? String
        if let token = config["token"] as? String {
            return .success(Settings(url: url, queue: queue, authorization: "token \(token)", inboundToken: inbound))
        }
        guard let username = config["username"] as? String, let password = config["password"] as? String else {
            return .failure(ConfigError(message: "configure either token, or username and password"))
        }
        let basic = "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
        return .success(Settings(url: url, queue: queue, authorization: basic, inboundToken: inbound))
    }
}

private struct ConfigError: Error {
    let message: String
}

private func text(_ value: sb_str) -> String {
    guard let pointer = value.ptr else { return "" }
    return String(decoding: UnsafeRawBufferPointer(start: pointer, count: value.len), as: UTF8.self)
}

private func borrowed<Result>(_ string: String, _ body: (sb_str) -> Result) -> Result {
    var string = string
    return string.withUTF8 { buffer in
        body(sb_str(ptr: UnsafeRawPointer(buffer.baseAddress)?.assumingMemoryBound(to: CChar.self), len: buffer.count))
    }
}

private func handOver(_ string: String) -> sb_str {
    let bytes = Array(string.utf8)
    let memory = host.pointee.alloc(max(bytes.count, 1))!
    bytes.withUnsafeBytes { memory.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    return sb_str(ptr: memory.assumingMemoryBound(to: CChar.self), len: bytes.count)
}

private func object(_ value: sb_str) -> [String: Any]? {
    guard let pointer = value.ptr else { return nil }
    return (try? JSONSerialization.jsonObject(with: Data(bytes: pointer, count: value.len))) as? [String: Any]
}

private func json(_ value: Any) -> String {
    String(decoding: (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])) ?? Data("{}".utf8), as: UTF8.self)
}

private func instance(_ pointer: OpaquePointer?) -> Instance {
    Unmanaged<Instance>.fromOpaque(UnsafeRawPointer(pointer!)).takeUnretainedValue()
}

private func complete(_ current: Instance, _ callID: sb_call_id, _ status: sb_status, _ result: String) {
    if status != SB_OK { borrowed(result) { host.pointee.log(current.context, SB_LOG_WARNING, $0) } }
    borrowed(result) { host.pointee.complete(current.context, callID, status, $0) }
}

/// The answer of one HTTP request: status code (0 when none arrived) and body.
private typealias Answer = (code: Int, body: Data, failure: String?)

/// Sends a request through the host and calls `done` once with the answer; false when it could not start.
private func request(_ current: Instance, _ method: String, _ path: String, body: Any?, done: @escaping @Sendable (Answer) -> Void) -> Bool {
    final class Box: Sendable {
        let done: @Sendable (Answer) -> Void
        init(_ done: @escaping @Sendable (Answer) -> Void) { self.done = done }
    }
    let settings = current.settings.withLock { $0 }
    let headers = json(["Authorization": settings.authorization, "Content-Type": "application/json", "Accept": "application/json"])
    let payload = body.map(json) ?? ""
    let box = Unmanaged.passRetained(Box(done)).toOpaque()
    let status = borrowed(method) { method in
        borrowed(settings.url + path) { url in
            borrowed(headers) { headers in
                borrowed(payload) { payload in
                    var request = sb_http_request(
                        struct_size: UInt32(MemoryLayout<sb_http_request>.size), method: method, url: url, headers_json: headers, body: payload, timeout_ms: 0
                    )
                    return host.pointee.http_request(current.context, &request, { userData, status, response in
                        let box = Unmanaged<Box>.fromOpaque(userData!).takeRetainedValue()
                        guard status == SB_OK, let response else {
                            box.done((0, Data(), "no answer from RT (host status \(status.rawValue))"))
                            return
                        }
                        let body = response.pointee.body.ptr.map { Data(bytes: $0, count: response.pointee.body.len) } ?? Data()
                        box.done((Int(response.pointee.status_code), body, nil))
                    }, box)
                }
            }
        }
    }
    if status != SB_PENDING { Unmanaged<Box>.fromOpaque(box).release() }
    return status == SB_PENDING
}

/// Records how the last request went and turns a failed answer into a message.
private func failure(_ current: Instance, _ answer: Answer, expecting codes: ClosedRange<Int>) -> String? {
    let message: String? =
        if let failure = answer.failure { failure }
        else if !codes.contains(answer.code) { "RT answered \(answer.code): \(String(decoding: answer.body.prefix(300), as: UTF8.self))" }
        else { nil }
    current.lastOutcome.withLock { $0 = message.map { (false, $0) } ?? (true, "RT answered \(answer.code)") }
    return message
}

private func createTicket(_ current: Instance, _ callID: sb_call_id, _ args: [String: Any]) -> sb_status {
    guard let ticketID = args["ticket_id"] as? String, let title = args["title"] as? String, let content = args["content"] as? String else {
        return SB_INVALID
    }
    let settings = current.settings.withLock { $0 }
    var footer = "Switchboard ticket \(ticketID)"
    if let conversation = args["conversation_id"] as? String { footer += ", conversation \(conversation)" }
    let body: [String: Any] = [
        "Queue": settings.queue, "Subject": title, "Content": "\(content)\n\n-- \(footer)",
        "Priority": priorityMap[args["priority"] as? String ?? "normal"] ?? 50,
    ]
    let started = request(current, "POST", "/REST/2.0/ticket", body: body) { answer in
        if let message = failure(current, answer, expecting: 200...299) {
            complete(current, callID, answer.code == 0 || answer.code >= 500 ? SB_UNAVAILABLE : SB_INVALID, message)
            return
        }
        let created = (try? JSONSerialization.jsonObject(with: answer.body)) as? [String: Any]
        guard let id = created?["id"].map({ "\($0)" }) else {
            complete(current, callID, SB_UNAVAILABLE, "RT's answer has no ticket id")
            return
        }
        complete(current, callID, SB_OK, json(["external_id": id, "url": "\(settings.url)/Ticket/Display.html?id=\(id)", "status": "new"]))
    }
    return started ? SB_PENDING : SB_UNAVAILABLE
}

/// Reads every named ticket (in parallel) and answers once all came back.
private func sync(_ current: Instance, _ callID: sb_call_id, _ args: [String: Any]) -> sb_status {
    guard let tickets = args["tickets"] as? [[String: Any]] else { return SB_INVALID }
    let wanted = tickets.compactMap { ticket -> (String, String)? in
        guard let id = ticket["ticket_id"] as? String, let external = ticket["external_id"] as? String, external.allSatisfy(\.isNumber) else { return nil }
        return (id, external)
    }
    guard !wanted.isEmpty else {
        complete(current, callID, SB_OK, json(["tickets": []]))
        return SB_PENDING
    }
    let state = Mutex<(left: Int, reports: [[String: String]], failure: String?)>((wanted.count, [], nil))
    /// Counts one ticket done; the last one completes the call.
    let finish: @Sendable ([String: String]?, String?) -> Void = { report, problem in
        let finished = state.withLock { state -> (reports: [[String: String]], failure: String?)? in
            if let report { state.reports.append(report) }
            if let problem { state.failure = state.failure ?? problem }
            state.left -= 1
            return state.left == 0 ? (state.reports, state.failure) : nil
        }
        guard let finished else { return }
        if let failure = finished.failure {
            complete(current, callID, SB_UNAVAILABLE, failure)
        } else {
            complete(current, callID, SB_OK, json(["tickets": finished.reports]))
        }
    }
    for (ticketID, externalID) in wanted {
        let started = request(current, "GET", "/REST/2.0/ticket/\(externalID)", body: nil) { answer in
            if answer.code == 404 { return finish(nil, nil) }
            if let message = failure(current, answer, expecting: 200...299) { return finish(nil, message) }
            guard let found = (try? JSONSerialization.jsonObject(with: answer.body)) as? [String: Any], let status = found["Status"] as? String else {
                return finish(nil, "RT's answer for ticket \(externalID) has no Status")
            }
            var report = ["ticket_id": ticketID, "external_status": status, "status": statusMap[status] ?? "open"]
            if let owner = (found["Owner"] as? [String: Any])?["id"] as? String, owner != "Nobody" { report["handler"] = owner }
            finish(report, nil)
        }
        if !started { finish(nil, "cannot start a request to RT") }
    }
    return SB_PENDING
}

/// Equal strings, compared in time that does not depend on where they differ.
private func same(_ left: String, _ right: String) -> Bool {
    let a = Array(left.utf8)
    let b = Array(right.utf8)
    guard a.count == b.count else { return false }
    return zip(a, b).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
}

/// A status change an RT scrip posted: `Authorization: Bearer <inbound_token>` and
/// `{"ticket": <RT id>, "status": "<RT status>", "owner": "<name>"?}`.
private func inbound(_ current: Instance, _ args: [String: Any], _ result: UnsafeMutablePointer<sb_str>) -> sb_status {
    guard let expected = current.settings.withLock({ $0.inboundToken }) else {
        result.pointee = handOver("inbound requests are off: set inbound_token")
        return SB_NOT_FOUND
    }
    let presented = (args["headers"] as? [String: Any])?["authorization"] as? String ?? ""
    guard same(presented, "Bearer \(expected)") else {
        result.pointee = handOver("wrong or missing bearer token")
        return SB_DENIED
    }
    let body = (args["body"] as? String).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any]
    let ticket = body?["ticket"].map { "\($0)" } ?? ""
    guard !ticket.isEmpty, ticket.allSatisfy(\.isNumber), let status = body?["status"] as? String, !status.isEmpty else {
        result.pointee = handOver("the body must be {\"ticket\": <RT id>, \"status\": \"<RT status>\", \"owner\"?: \"<name>\"}")
        return SB_INVALID
    }
    var report = ["external_id": ticket, "external_status": status, "status": statusMap[status] ?? "open"]
    if let owner = body?["owner"] as? String, owner != "Nobody" { report["handler"] = owner }
    result.pointee = handOver(json(["tickets": [report], "body": ["accepted": true]]))
    return SB_OK
}

@_cdecl("sb_plugin_manifest_v1")
public func manifestEntry() -> sb_str {
    sb_str(ptr: UnsafeRawPointer(manifest.utf8Start).assumingMemoryBound(to: CChar.self), len: manifest.utf8CodeUnitCount)
}

@_cdecl("sb_plugin_init_v1")
public func initEntry(_ hostAPI: UnsafePointer<sb_host_api>, _ plugin: UnsafeMutablePointer<sb_plugin_api>) -> sb_status {
    guard Int(hostAPI.pointee.abi_major) == Int(SB_ABI_VERSION_MAJOR) else { return SB_UNSUPPORTED }
    host = hostAPI
    var api = sb_plugin_api()
    api.struct_size = UInt32(MemoryLayout<sb_plugin_api>.size)
    api.abi_major = UInt16(SB_ABI_VERSION_MAJOR)
    api.abi_minor = UInt16(SB_ABI_VERSION_MINOR)
    api.create = { context, _, config, out, error in
        switch Instance.settings(object(config) ?? [:]) {
        case .success(let settings):
            out!.pointee = OpaquePointer(Unmanaged.passRetained(Instance(context: context!, settings: settings)).toOpaque())
            return SB_OK
        case .failure(let failure):
            error!.pointee = handOver(failure.message)
            return SB_INVALID
        }
    }
    api.reconfigure = { pointer, config, error in
        switch Instance.settings(object(config) ?? [:]) {
        case .success(let settings):
            instance(pointer).settings.withLock { $0 = settings }
            return SB_OK
        case .failure(let failure):
            error!.pointee = handOver(failure.message)
            return SB_INVALID
        }
    }
    api.destroy = { pointer in
        Unmanaged<Instance>.fromOpaque(UnsafeRawPointer(pointer!)).release()
    }
    api.call = { pointer, callID, op, args, result in
        guard let arguments = object(args) else {
            result!.pointee = handOver("arguments must be a JSON object")
            return SB_INVALID
        }
        switch text(op) {
        case "ticketing.create_ticket": return createTicket(instance(pointer), callID, arguments)
        case "ticketing.sync": return sync(instance(pointer), callID, arguments)
        case "inbound.receive": return inbound(instance(pointer), arguments, result!)
        default: return SB_NOT_FOUND
        }
    }
    api.health = { pointer, detail in
        let outcome = instance(pointer).lastOutcome.withLock { $0 }
        detail!.pointee = handOver(outcome.detail)
        return outcome.ok ? SB_OK : SB_UNAVAILABLE
    }
    let size = min(Int(plugin.pointee.struct_size), MemoryLayout<sb_plugin_api>.size)
    withUnsafeBytes(of: &api) { UnsafeMutableRawPointer(plugin).copyMemory(from: $0.baseAddress!, byteCount: size) }
    plugin.pointee.struct_size = api.struct_size
    return SB_OK
}
