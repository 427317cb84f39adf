// stats-prometheus: a statistics sink that pushes a tenant's statistics to a Prometheus Pushgateway.
//
// On each `stats.push` from the host it replaces the group job/<job>/tenant/<tenant id> on the
// Pushgateway (HTTP PUT) with the tenant's all-time totals: one series per metric and combination of
// agent_id, category and channel, counts as counters and averages as gauges. A failed push answers
// SB_UNAVAILABLE; the host keeps its cursor and pushes again next round.
import CSwitchboardPlugin
import Foundation
import PluginKit

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
private final class Instance: @unchecked Sendable {
    // @unchecked: the HTTP callback reads only the immutable `context`, which host services accept
    // from any thread.
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

private func push(_ current: Instance, callID: sb_call_id, payload: [String: Any]) -> sb_status {
    guard let body = exposition(payload), let tenant = payload["tenant_id"] as? String, tenant == current.tenant else { return SB_INVALID }
    let path = tenant.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_."))) ?? tenant
    let url = "\(current.url)/metrics/job/\(current.job)/tenant/\(path)"
    var headers = ["Content-Type": "text/plain; version=0.0.4"]
    if let authorization = current.authorization { headers["Authorization"] = authorization }
    let started = httpRequest(current.context, method: "PUT", url: url, headers: headers, body: body) { answer in
        if (200..<300).contains(answer.code) {
            complete(current.context, callID, SB_OK, "{\"pushed\":true}")
        } else {
            complete(current.context, callID, SB_UNAVAILABLE, "Pushgateway answered \(answer.code)\(answer.failure.map { " (\($0))" } ?? "")")
        }
    }
    return started ? SB_PENDING : SB_UNAVAILABLE
}

@_cdecl("sb_plugin_manifest_v1")
public func manifestEntry() -> sb_str { PluginKit.manifest(manifest) }

@_cdecl("sb_plugin_init_v1")
public func initEntry(_ hostAPI: UnsafePointer<sb_host_api>, _ plugin: UnsafeMutablePointer<sb_plugin_api>) -> sb_status {
    var api = sb_plugin_api()
    api.create = { context, tenant, config, out, _ in
        let created = Instance(context: context!, tenant: text(tenant), config: object(config) ?? [:])
        out!.pointee = PluginKit.retained(created)
        return SB_OK
    }
    api.reconfigure = { pointer, config, _ in
        PluginKit.instance(pointer, as: Instance.self).apply(object(config) ?? [:])
        return SB_OK
    }
    api.destroy = { PluginKit.release($0) }
    api.call = { pointer, callID, op, args, result in
        guard text(op) == "stats.push" else { return SB_NOT_FOUND }
        guard let payload = object(args) else {
            result!.pointee = handOver("stats.push needs a JSON object")
            return SB_INVALID
        }
        return push(PluginKit.instance(pointer, as: Instance.self), callID: callID, payload: payload)
    }
    return PluginKit.start(host: hostAPI, plugin: plugin, api: api)
}
