// stats-prometheus: a statistics sink that pushes a tenant's statistics to a Prometheus Pushgateway.
//
// On each `stats.push` from the host it replaces the group job/<job>/tenant/<tenant id> on the
// Pushgateway (HTTP PUT) with the tenant's all-time totals: one series per metric and combination of
// agent_id, category and channel, counts as counters and averages as gauges. A failed push answers
// SB_UNAVAILABLE; the host keeps its cursor and pushes again next round.
import CSwitchboardPlugin
import Foundation

nonisolated(unsafe) private var host: UnsafePointer<sb_host_api>!

private let manifest: StaticString = """
    {"id":"stats-prometheus","version":"1.0.0","name":"Prometheus Pushgateway",
    "description":"Pushes the tenant's statistics totals to a Prometheus Pushgateway.",
    "capabilities":["stats_sink"],"services":["log","http"],
    "call_timeout_ms":15000,"http_timeout_ms":10000,
    "config_schema":{"type":"object","additionalProperties":false,"required":["url"],
      "properties":{
        "url":{"type":"string","pattern":"^https?://[^/?#]+/?$","description":"The Pushgateway's base URL, e.g. http://pushgateway:9091"},
        "job":{"type":"string","pattern":"^[a-zA-Z_][a-zA-Z0-9_]{0,63}$","description":"The job label; default switchboard."},
        "authorization":{"type":"string","maxLength":1024,"writeOnly":true,"description":"An Authorization header value, if the gateway needs one."}}}}
    """

/// One tenant's instance: where to push.
private final class Instance {
    let context: OpaquePointer
    let tenant: String
    var url = ""
    var job = "switchboard"
    var authorization: String?

    init(context: OpaquePointer, tenant: String, config: [String: Any]) {
        self.context = context
        self.tenant = tenant
        apply(config)
    }

    func apply(_ config: [String: Any]) {
        url = (config["url"] as? String ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        job = config["job"] as? String ?? "switchboard"
        authorization = config["authorization"] as? String
    }
}

/// What the HTTP callback needs to finish the call; retained across the request.
private final class PendingPush {
    let context: OpaquePointer
    let callID: sb_call_id

    init(context: OpaquePointer, callID: sb_call_id) {
        self.context = context
        self.callID = callID
    }
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

/// A label value escaped for the text exposition format.
private func escaped(_ value: String) -> String {
    value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
}

/// The Prometheus text exposition of a `stats.push` payload's totals.
private func exposition(_ payload: [String: Any]) -> String? {
    guard let type = payload["type"] as? String, let registry = payload["metrics"] as? [[String: Any]],
        let totals = payload["totals"] as? [[String: Any]]
    else { return nil }
    var text = ""
    for metric in registry {
        guard let name = metric["name"] as? String else { continue }
        let series = "switchboard_\(type)_\(name)"
        text += "# TYPE \(series) \(metric["kind"] as? String == "count" ? "counter" : "gauge")\n"
        for total in totals {
            guard let value = (total["metrics"] as? [String: Any])?[name] as? NSNumber else { continue }
            let dimension = total["dimension"] as? [String: Any] ?? [:]
            let labels = ["agent_id", "category", "channel"].map { "\($0)=\"\(escaped(dimension[$0] as? String ?? ""))\"" }
            text += "\(series){\(labels.joined(separator: ","))} \(value.doubleValue)\n"
        }
    }
    return text
}

private func instance(_ pointer: OpaquePointer?) -> Instance {
    Unmanaged<Instance>.fromOpaque(UnsafeRawPointer(pointer!)).takeUnretainedValue()
}

private func push(_ current: Instance, callID: sb_call_id, payload: [String: Any]) -> sb_status {
    guard let body = exposition(payload), let tenant = payload["tenant_id"] as? String, tenant == current.tenant else { return SB_INVALID }
    let path = tenant.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_."))) ?? tenant
    let url = "\(current.url)/metrics/job/\(current.job)/tenant/\(path)"
    var headers = ["Content-Type": "text/plain; version=0.0.4"]
    if let authorization = current.authorization { headers["Authorization"] = authorization }
    let headerJSON = String(decoding: (try? JSONSerialization.data(withJSONObject: headers)) ?? Data("{}".utf8), as: UTF8.self)
    let pending = Unmanaged.passRetained(PendingPush(context: current.context, callID: callID)).toOpaque()
    let status = borrowed("PUT") { method in
        borrowed(url) { url in
            borrowed(headerJSON) { headers in
                borrowed(body) { body in
                    var request = sb_http_request(
                        struct_size: UInt32(MemoryLayout<sb_http_request>.size), method: method, url: url, headers_json: headers, body: body, timeout_ms: 0
                    )
                    return host.pointee.http_request(current.context, &request, { userData, status, response in
                        let pending = Unmanaged<PendingPush>.fromOpaque(userData!).takeRetainedValue()
                        let code = response?.pointee.status_code ?? 0
                        if status == SB_OK, (200..<300).contains(code) {
                            borrowed("{\"pushed\":true}") { host.pointee.complete(pending.context, pending.callID, SB_OK, $0) }
                        } else {
                            let message = "Pushgateway answered \(code) (host status \(status.rawValue))"
                            borrowed(message) { host.pointee.log(pending.context, SB_LOG_WARNING, $0) }
                            borrowed(message) { host.pointee.complete(pending.context, pending.callID, SB_UNAVAILABLE, $0) }
                        }
                    }, pending)
                }
            }
        }
    }
    if status != SB_PENDING { Unmanaged<PendingPush>.fromOpaque(pending).release() }
    return status == SB_PENDING ? SB_PENDING : SB_UNAVAILABLE
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
    api.create = { context, tenant, config, out, _ in
        let created = Instance(context: context!, tenant: text(tenant), config: object(config) ?? [:])
        out!.pointee = OpaquePointer(Unmanaged.passRetained(created).toOpaque())
        return SB_OK
    }
    api.reconfigure = { pointer, config, _ in
        instance(pointer).apply(object(config) ?? [:])
        return SB_OK
    }
    api.destroy = { pointer in
        Unmanaged<Instance>.fromOpaque(UnsafeRawPointer(pointer!)).release()
    }
    api.call = { pointer, callID, op, args, result in
        guard text(op) == "stats.push" else { return SB_NOT_FOUND }
        guard let payload = object(args) else {
            result!.pointee = handOver("stats.push needs a JSON object")
            return SB_INVALID
        }
        return push(instance(pointer), callID: callID, payload: payload)
    }
    let size = min(Int(plugin.pointee.struct_size), MemoryLayout<sb_plugin_api>.size)
    withUnsafeBytes(of: &api) { UnsafeMutableRawPointer(plugin).copyMemory(from: $0.baseAddress!, byteCount: size) }
    plugin.pointee.struct_size = api.struct_size
    return SB_OK
}
