// stats-file: a statistics sink that appends a tenant's changed hourly statistics to a JSON Lines file.
//
// Each `stats.push` appends one line per hourly cell the host sends:
//     {"tenant_id","type","hour","dimension":{"agent_id","category","channel"},"metrics":{...},"position"}
// A cell's line carries its whole current value, so a reader keeps the last line per (type, hour,
// dimension). Files live under the operator's folder SWITCHBOARD_STATS_FILE_DIR (default
// data/statistics), one folder per tenant: a tenant picks only the file's name. The lines are written
// and fsynced before the call answers OK; on a failure it answers SB_UNAVAILABLE and the host sends
// the same cells again next round.
import CSwitchboardPlugin
import Foundation
import PluginKit

private let manifest: StaticString = """
    {"id":"stats-file","version":"1.0.0","name":"Statistics file",
    "description":"Appends changed hourly statistics to a JSON Lines file.",
    "capabilities":["stats_sink"],"services":["log"],"serialize_calls":true,
    "config_schema":{"type":"object","additionalProperties":false,
      "properties":{"name":{"type":"string","pattern":"^[a-zA-Z0-9_-]{1,64}$","description":"The file's name without .jsonl; default statistics."}}}}
    """

/// One tenant's instance: the file it appends to.
private final class Instance {
    let context: OpaquePointer
    let tenant: String
    var path = ""

    init(context: OpaquePointer, tenant: String, config: [String: Any]) {
        self.context = context
        self.tenant = tenant
        apply(config)
    }

    func apply(_ config: [String: Any]) {
        let root = ProcessInfo.processInfo.environment["SWITCHBOARD_STATS_FILE_DIR"] ?? "data/statistics"
        path = "\(root)/\(tenant)/\(config["name"] as? String ?? "statistics").jsonl"
    }
}

/// Appends one line per row and fsyncs; throws on any I/O failure.
private func append(_ payload: [String: Any], to path: String) throws -> Int {
    guard let rows = payload["rows"] as? [[String: Any]] else { throw CocoaError(.coderInvalidValue) }
    var data = Data()
    for row in rows {
        var line = row
        line["tenant_id"] = payload["tenant_id"]
        line["type"] = payload["type"]
        data.append(try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]))
        data.append(0x0A)
    }
    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
    let file = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    defer { try? file.close() }
    try file.seekToEnd()
    try file.write(contentsOf: data)
    try file.synchronize()
    return rows.count
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
    api.call = { pointer, _, op, args, result in
        guard text(op) == "stats.push" else { return SB_NOT_FOUND }
        let current = PluginKit.instance(pointer, as: Instance.self)
        guard let payload = object(args), payload["tenant_id"] as? String == current.tenant else {
            result!.pointee = handOver("stats.push needs the instance's tenant's payload")
            return SB_INVALID
        }
        do {
            let written = try append(payload, to: current.path)
            result!.pointee = handOver("{\"written\":\(written)}")
            return SB_OK
        } catch {
            let message = "Cannot append to \(current.path): \(error)"
            log(current.context, SB_LOG_WARNING, message)
            result!.pointee = handOver(message)
            return SB_UNAVAILABLE
        }
    }
    return PluginKit.start(host: hostAPI, plugin: plugin, api: api)
}
