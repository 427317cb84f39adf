// PluginKit: what the Swift plugins of this repository share on their side of the ABI — strings across
// the boundary, JSON, the host's HTTP service with a closure, completing calls, and filling the hook
// table. It is linked statically into each plugin library, so every `.so` has its own copy (and its
// own `host`); the host never sees it.
import CSwitchboardPlugin
import Foundation
import Synchronization

/// The host's service table, set by `PluginKit.start` in `sb_plugin_init_v1`; valid for the process's life.
nonisolated(unsafe) public private(set) var host: UnsafePointer<sb_host_api>!

public enum PluginKit {
    /// Keeps the host's table and copies `api` (with the ABI version set) into the host's hook table.
    /// - Returns: SB_UNSUPPORTED for a host of another ABI major, else SB_OK.
    public static func start(host hostAPI: UnsafePointer<sb_host_api>, plugin: UnsafeMutablePointer<sb_plugin_api>, api: sb_plugin_api) -> sb_status {
        guard Int(hostAPI.pointee.abi_major) == Int(SB_ABI_VERSION_MAJOR) else { return SB_UNSUPPORTED }
        host = hostAPI
        var api = api
        api.struct_size = UInt32(MemoryLayout<sb_plugin_api>.size)
        api.abi_major = UInt16(SB_ABI_VERSION_MAJOR)
        api.abi_minor = UInt16(SB_ABI_VERSION_MINOR)
        let size = min(Int(plugin.pointee.struct_size), MemoryLayout<sb_plugin_api>.size)
        withUnsafeBytes(of: &api) { UnsafeMutableRawPointer(plugin).copyMemory(from: $0.baseAddress!, byteCount: size) }
        plugin.pointee.struct_size = api.struct_size
        return SB_OK
    }

    /// A manifest in static storage as the `sb_str` `sb_plugin_manifest_v1` returns.
    public static func manifest(_ text: StaticString) -> sb_str {
        sb_str(ptr: UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self), len: text.utf8CodeUnitCount)
    }

    /// The instance object behind an `sb_instance` pointer made by `retained`.
    public static func instance<Instance: AnyObject>(_ pointer: OpaquePointer?, as type: Instance.Type = Instance.self) -> Instance {
        Unmanaged<Instance>.fromOpaque(UnsafeRawPointer(pointer!)).takeUnretainedValue()
    }

    /// An `sb_instance` pointer that keeps `instance` alive until `release`.
    public static func retained(_ instance: AnyObject) -> OpaquePointer {
        OpaquePointer(Unmanaged.passRetained(instance).toOpaque())
    }

    /// Lets go of an instance made by `retained` (in `destroy`).
    public static func release(_ pointer: OpaquePointer?) {
        Unmanaged<AnyObject>.fromOpaque(UnsafeRawPointer(pointer!)).release()
    }
}

/// Borrowed text as a Swift string.
public func text(_ value: sb_str) -> String {
    guard let pointer = value.ptr else { return "" }
    return String(decoding: UnsafeRawBufferPointer(start: pointer, count: value.len), as: UTF8.self)
}

/// Runs `body` with `string` borrowed as an `sb_str`.
public func borrowed<Result>(_ string: String, _ body: (sb_str) -> Result) -> Result {
    var string = string
    return string.withUTF8 { buffer in
        body(sb_str(ptr: UnsafeRawPointer(buffer.baseAddress)?.assumingMemoryBound(to: CChar.self), len: buffer.count))
    }
}

/// `string` copied into memory from the host's allocator, to hand over.
public func handOver(_ string: String) -> sb_str {
    let bytes = Array(string.utf8)
    let memory = host.pointee.alloc(max(bytes.count, 1))!
    bytes.withUnsafeBytes { memory.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    return sb_str(ptr: memory.assumingMemoryBound(to: CChar.self), len: bytes.count)
}

/// Borrowed JSON text as an object, or nil.
public func object(_ value: sb_str) -> [String: Any]? {
    guard let pointer = value.ptr else { return nil }
    return (try? JSONSerialization.jsonObject(with: Data(bytes: pointer, count: value.len))) as? [String: Any]
}

/// A JSON value (object or array) as compact text with sorted keys.
public func json(_ value: Any) -> String {
    String(decoding: (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])) ?? Data("{}".utf8), as: UTF8.self)
}

/// Writes a log record through the host.
public func log(_ context: OpaquePointer, _ level: sb_log_level, _ message: String) {
    borrowed(message) { host.pointee.log(context, level, $0) }
}

/// Finishes a pending call; a failure is logged as a warning first.
public func complete(_ context: OpaquePointer, _ callID: sb_call_id, _ status: sb_status, _ result: String) {
    if status != SB_OK && status != SB_NOT_FOUND { log(context, SB_LOG_WARNING, result) }
    borrowed(result) { host.pointee.complete(context, callID, status, $0) }
}

/// The outcome of `httpRequest`: the HTTP status (0 when no answer came), the body, and why none came.
public struct HTTPAnswer: Sendable {
    public let code: Int
    public let body: Data
    public let failure: String?
}

/// Sends a request through the host's HTTP service and calls `done` once with the answer.
/// - Returns: false when the host refused to start it (then `done` is not called).
public func httpRequest(
    _ context: OpaquePointer,
    method: String,
    url: String,
    headers: [String: String],
    body: String = "",
    done: @escaping @Sendable (HTTPAnswer) -> Void
) -> Bool {
    final class Box: Sendable {
        let done: @Sendable (HTTPAnswer) -> Void
        init(_ done: @escaping @Sendable (HTTPAnswer) -> Void) { self.done = done }
    }
    let box = Unmanaged.passRetained(Box(done)).toOpaque()
    let status = borrowed(method) { method in
        borrowed(url) { url in
            borrowed(json(headers)) { headers in
                borrowed(body) { body in
                    var request = sb_http_request(
                        struct_size: UInt32(MemoryLayout<sb_http_request>.size), method: method, url: url, headers_json: headers, body: body, timeout_ms: 0
                    )
                    return host.pointee.http_request(context, &request, { userData, status, response in
                        let box = Unmanaged<Box>.fromOpaque(userData!).takeRetainedValue()
                        guard status == SB_OK, let response else {
                            box.done(HTTPAnswer(code: 0, body: Data(), failure: "no answer (host status \(status.rawValue))"))
                            return
                        }
                        let body = response.pointee.body.ptr.map { Data(bytes: $0, count: response.pointee.body.len) } ?? Data()
                        box.done(HTTPAnswer(code: Int(response.pointee.status_code), body: body, failure: nil))
                    }, box)
                }
            }
        }
    }
    if status != SB_PENDING { Unmanaged<Box>.fromOpaque(box).release() }
    return status == SB_PENDING
}

/// How the last request to the plugin's outside system went, as its `health` hook reports it.
public final class LastOutcome: Sendable {
    private let state = Mutex<(ok: Bool, detail: String)>((true, "no request yet"))

    public init() {}

    public func record(ok: Bool, _ detail: String) {
        state.withLock { $0 = (ok, detail) }
    }

    /// The `health` answer: hands the detail over, and SB_OK or SB_UNAVAILABLE.
    public func health(_ detail: UnsafeMutablePointer<sb_str>?) -> sb_status {
        let outcome = state.withLock { $0 }
        detail!.pointee = handOver(outcome.detail)
        return outcome.ok ? SB_OK : SB_UNAVAILABLE
    }
}
