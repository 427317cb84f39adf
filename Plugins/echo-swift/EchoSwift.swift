// echo-swift: the example plugin in Swift, built as a SwiftPM dynamic library with `@_cdecl` entry points.
//
// Like echo-c it records each event once in the tenant's key-value space (one "state" document: "count"
// and the last 64 "type:seq" entries in "seen") and answers `echo.ping` and `echo.state`; `echo.ping` answers asynchronously
// (SB_PENDING, then the host's `complete` from another thread) to show that path.
import CSwitchboardPlugin
import Dispatch
import Foundation

nonisolated(unsafe) private var host: UnsafePointer<sb_host_api>!

private let manifest: StaticString = """
    {"id":"echo-swift","version":"1.0.0","name":"Echo (Swift)",
    "description":"Counts events in kv; answers echo.ping asynchronously and echo.state.",
    "capabilities":["event_listener"],"events":["message.*","conversation.*"],"services":["log","kv","emit"],
    "call_timeout_ms":2000,"ops":["echo.ping","echo.state"],
    "config_schema":{"type":"object","additionalProperties":false,
      "properties":{"label":{"type":"string","maxLength":64},"emit_on_ping":{"type":"boolean"}}}}
    """

/// The host's context pointer, which the header lets any thread use until `destroy`.
private struct HostContext: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// One tenant's instance.
private final class Instance {
    let context: OpaquePointer
    let tenant: String
    var config: [String: Any]

    init(context: OpaquePointer, tenant: String, config: [String: Any]) {
        self.context = context
        self.tenant = tenant
        self.config = config
    }
}

private func text(_ value: sb_str) -> String {
    guard let pointer = value.ptr else { return "" }
    return String(decoding: UnsafeRawBufferPointer(start: pointer, count: value.len), as: UTF8.self)
}

private func object(_ value: sb_str) -> [String: Any]? {
    guard let pointer = value.ptr else { return nil }
    return (try? JSONSerialization.jsonObject(with: Data(bytes: pointer, count: value.len))) as? [String: Any]
}

/// Calls `body` with `string` as a borrowed sb_str.
private func borrowed<Result>(_ string: String, _ body: (sb_str) -> Result) -> Result {
    var string = string
    return string.withUTF8 { buffer in
        body(sb_str(ptr: UnsafeRawPointer(buffer.baseAddress)?.assumingMemoryBound(to: CChar.self), len: buffer.count))
    }
}

/// Copies `string` into host-allocated memory, handed over to the host.
private func handOver(_ string: String) -> sb_str {
    let bytes = Array(string.utf8)
    let memory = host.pointee.alloc(max(bytes.count, 1))!
    bytes.withUnsafeBytes { memory.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    return sb_str(ptr: memory.assumingMemoryBound(to: CChar.self), len: bytes.count)
}

private func json(_ value: Any) -> String {
    String(decoding: (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed])) ?? Data("null".utf8), as: UTF8.self)
}

/// Reads a kv value and its version (0 when absent); nil on a host failure.
private func read(_ context: OpaquePointer, _ key: String) -> (value: String?, version: UInt64)? {
    var value = sb_str(ptr: nil, len: 0)
    var version: UInt64 = 0
    let status = borrowed(key) { host.pointee.kv_get(context, $0, &value, &version) }
    if status == SB_NOT_FOUND { return (nil, 0) }
    guard status == SB_OK else { return nil }
    defer { host.pointee.free(value.ptr) }
    return (text(value), version)
}

private func write(_ context: OpaquePointer, _ key: String, _ value: String, expected: UInt64) -> sb_status {
    borrowed(key) { keyText in borrowed(value) { host.pointee.kv_put(context, keyText, $0, expected, nil) } }
}

/// The recorded state when nothing is: one kv document, so that it changes in one write.
private let emptyState = #"{"count":0,"seen":[]}"#

/// Records `type:seq` unless it is among the recorded entries: delivery is at least once, so an event can
/// come again (after a timeout or a restart). It is looked for rather than compared with the newest seq:
/// a parked event retried later comes after newer ones.
private func record(_ instance: Instance, type: String, seq: Int) -> sb_status {
    let entry = "\(type):\(seq)"
    for _ in 0..<8 {
        guard let stored = read(instance.context, "state") else { return SB_UNAVAILABLE }
        let text = stored.value ?? emptyState
        guard let state = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any], let count = state["count"] as? Int,
            let seen = state["seen"] as? [String], count >= 0, count < Int.max
        else { return SB_INTERNAL }
        if seen.contains(entry) { return SB_OK }
        let next = json(["count": count + 1, "seen": Array((seen + [entry]).suffix(64))] as [String: Any])
        let status = write(instance.context, "state", next, expected: stored.version)
        if status != SB_CONFLICT { return status }
    }
    return SB_UNAVAILABLE
}

private func instance(_ pointer: OpaquePointer?) -> Instance {
    Unmanaged<Instance>.fromOpaque(UnsafeRawPointer(pointer!)).takeUnretainedValue()
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
        instance(pointer).config = object(config) ?? [:]
        return SB_OK
    }
    api.destroy = { pointer in
        Unmanaged<Instance>.fromOpaque(UnsafeRawPointer(pointer!)).release()
    }
    api.on_event = { pointer, event in
        guard let envelope = object(event), let type = envelope["event"] as? String, let seq = envelope["seq"] as? Int else { return SB_INVALID }
        return record(instance(pointer), type: type, seq: seq)
    }
    api.call = { pointer, callID, op, args, result in
        let current = instance(pointer)
        switch text(op) {
        case "echo.ping":
            let reply = json(["pong": true, "tenant_id": current.tenant, "label": current.config["label"] ?? NSNull(), "args": object(args) ?? [:]])
            let shouldEmit = current.config["emit_on_ping"] as? Bool == true
            let context = HostContext(pointer: current.context)
            DispatchQueue.global().async {
                if shouldEmit {
                    _ = borrowed("pinged") { name in borrowed(reply) { host.pointee.emit_event(context.pointer, name, $0) } }
                }
                borrowed(reply) { host.pointee.complete(context.pointer, callID, SB_OK, $0) }
            }
            return SB_PENDING
        case "echo.state":
            guard let state = read(current.context, "state") else { return SB_UNAVAILABLE }
            result!.pointee = handOver(state.value ?? emptyState)
            return SB_OK
        default:
            return SB_NOT_FOUND
        }
    }
    let size = min(Int(plugin.pointee.struct_size), MemoryLayout<sb_plugin_api>.size)
    withUnsafeBytes(of: &api) { UnsafeMutableRawPointer(plugin).copyMemory(from: $0.baseAddress!, byteCount: size) }
    plugin.pointee.struct_size = api.struct_size
    return SB_OK
}
