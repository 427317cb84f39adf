// ticketing-rt: tickets in Request Tracker 5 over its REST2 API.
//
// `ticketing.create_ticket` creates the ticket in the configured queue and answers its RT id;
// `ticketing.sync` reads the status and owner of the tickets the host names and answers them with the
// Switchboard status they map to; `inbound.receive` takes a status change an RT scrip posts to the
// host's inbound route, verified by a shared token. All HTTP goes through the host's client (timeouts,
// SSRF guard).
import CSwitchboardPlugin
import Foundation
import PluginKit
import Synchronization

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
    let lastOutcome = LastOutcome()

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

/// Sends a request to RT with the instance's credentials; `done` runs once with the answer.
/// - Returns: false when it could not start.
private func request(_ current: Instance, _ method: String, _ path: String, body: Any?, done: @escaping @Sendable (HTTPAnswer) -> Void) -> Bool {
    let settings = current.settings.withLock { $0 }
    let headers = ["Authorization": settings.authorization, "Content-Type": "application/json", "Accept": "application/json"]
    return httpRequest(current.context, method: method, url: settings.url + path, headers: headers, body: body.map(json) ?? "", done: done)
}

/// Records how the last request went and turns a failed answer into a message.
private func failure(_ current: Instance, _ answer: HTTPAnswer, expecting codes: ClosedRange<Int>) -> String? {
    let message: String? =
        if let failure = answer.failure { "RT: \(failure)" }
        else if !codes.contains(answer.code) { "RT answered \(answer.code): \(String(decoding: answer.body.prefix(300), as: UTF8.self))" }
        else { nil }
    current.lastOutcome.record(ok: message == nil, message ?? "RT answered \(answer.code)")
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
            complete(current.context, callID, answer.code == 0 || answer.code >= 500 ? SB_UNAVAILABLE : SB_INVALID, message)
            return
        }
        let created = (try? JSONSerialization.jsonObject(with: answer.body)) as? [String: Any]
        guard let id = created?["id"].map({ "\($0)" }) else {
            complete(current.context, callID, SB_UNAVAILABLE, "RT's answer has no ticket id")
            return
        }
        complete(current.context, callID, SB_OK, json(["external_id": id, "url": "\(settings.url)/Ticket/Display.html?id=\(id)", "status": "new"]))
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
        complete(current.context, callID, SB_OK, json(["tickets": []]))
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
            complete(current.context, callID, SB_UNAVAILABLE, failure)
        } else {
            complete(current.context, callID, SB_OK, json(["tickets": finished.reports]))
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
public func manifestEntry() -> sb_str { PluginKit.manifest(manifest) }

@_cdecl("sb_plugin_init_v1")
public func initEntry(_ hostAPI: UnsafePointer<sb_host_api>, _ plugin: UnsafeMutablePointer<sb_plugin_api>) -> sb_status {
    var api = sb_plugin_api()
    api.create = { context, _, config, out, error in
        switch Instance.settings(object(config) ?? [:]) {
        case .success(let settings):
            out!.pointee = PluginKit.retained(Instance(context: context!, settings: settings))
            return SB_OK
        case .failure(let failure):
            error!.pointee = handOver(failure.message)
            return SB_INVALID
        }
    }
    api.reconfigure = { pointer, config, error in
        switch Instance.settings(object(config) ?? [:]) {
        case .success(let settings):
            PluginKit.instance(pointer, as: Instance.self).settings.withLock { $0 = settings }
            return SB_OK
        case .failure(let failure):
            error!.pointee = handOver(failure.message)
            return SB_INVALID
        }
    }
    api.destroy = { PluginKit.release($0) }
    api.call = { pointer, callID, op, args, result in
        guard let arguments = object(args) else {
            result!.pointee = handOver("arguments must be a JSON object")
            return SB_INVALID
        }
        switch text(op) {
        case "ticketing.create_ticket": return createTicket(PluginKit.instance(pointer, as: Instance.self), callID, arguments)
        case "ticketing.sync": return sync(PluginKit.instance(pointer, as: Instance.self), callID, arguments)
        case "inbound.receive": return inbound(PluginKit.instance(pointer, as: Instance.self), arguments, result!)
        default: return SB_NOT_FOUND
        }
    }
    api.health = { pointer, detail in PluginKit.instance(pointer, as: Instance.self).lastOutcome.health(detail) }
    return PluginKit.start(host: hostAPI, plugin: plugin, api: api)
}
