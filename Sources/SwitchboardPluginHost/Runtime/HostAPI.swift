import CSwitchboardPlugin
import Dispatch
import Foundation
import Logging
import Metrics
import SwitchboardCore

/// The `sb_host_api` table handed to every plugin's init: C functions that find their
/// ``HostContext`` through the `sb_host *` argument.
final class HostAPI: @unchecked Sendable {
    // @unchecked: the table is written once in init and only read afterwards, by plugins on any thread.
    let table: UnsafeMutablePointer<sb_host_api>

    /// The one table of the process; plugins keep its pointer forever.
    static let shared = HostAPI()

    private init() {
        table = .allocate(capacity: 1)
        table.initialize(
            to: sb_host_api(
                struct_size: UInt32(MemoryLayout<sb_host_api>.size),
                abi_major: UInt16(SB_ABI_VERSION_MAJOR),
                abi_minor: UInt16(SB_ABI_VERSION_MINOR),
                alloc: { size in malloc(max(size, 1)) },
                free: { pointer in Foundation.free(pointer) },
                log: { host, level, message in HostAPI.log(host, level, message) },
                kv_get: { host, key, value, version in HostAPI.kvGet(host, key, value, version).raw },
                kv_put: { host, key, value, expected, version in HostAPI.kvPut(host, key, value, expected, version).raw },
                kv_delete: { host, key, expected in HostAPI.kvDelete(host, key, expected).raw },
                emit_event: { host, name, data in HostAPI.emit(host, name, data).raw },
                http_request: { host, request, callback, userData in HostAPI.http(host, request, callback, userData).raw },
                metric_counter: { host, name, delta in HostAPI.metric(host, name, delta, histogram: false) },
                metric_histogram: { host, name, value in HostAPI.metric(host, name, value, histogram: true) },
                complete: { host, callID, status, result in HostAPI.complete(host, callID, status, result) }
            )
        )
    }

    // MARK: - Services

    private static func log(_ host: OpaquePointer?, _ level: sb_log_level, _ message: sb_str) {
        guard let context = HostContext.from(host), context.services.contains(.log) || context.tenantID == nil else { return }
        let levels: [Logger.Level] = [.trace, .debug, .info, .warning, .error]
        let index = Int(level.rawValue)
        context.logger.log(
            level: levels.indices.contains(index) ? levels[index] : .error,
            "Plugin log",
            metadata: ["sb.message": .string(text(message))]
        )
    }

    private static func kvGet(_ host: OpaquePointer?, _ key: sb_str, _ value: UnsafeMutablePointer<sb_str>?, _ version: UnsafeMutablePointer<UInt64>?) -> PluginStatus {
        guard let context = HostContext.from(host), let tenant = context.tenant(for: .kv), let store = context.environment.store else { return .denied }
        guard let key = validKey(key), let value else { return .invalid }
        do {
            guard let stored = try store.pluginValue(tenant: tenant, plugin: context.pluginID, key: key) else { return .notFound }
            value.pointee = handOver(stored.bytes)
            version?.pointee = stored.version
            return .ok
        } catch {
            return .unavailable
        }
    }

    private static func kvPut(_ host: OpaquePointer?, _ key: sb_str, _ value: sb_str, _ expected: UInt64, _ version: UnsafeMutablePointer<UInt64>?) -> PluginStatus {
        guard let context = HostContext.from(host), let tenant = context.tenant(for: .kv), let store = context.environment.store else { return .denied }
        guard let key = validKey(key), value.len <= 1 << 20 else { return .invalid }
        let plugin = context.pluginID
        let bytes = self.bytes(value)
        let expectation = expectedVersion(expected)
        switch waitFor({ try await store.putPluginValue(tenant: tenant, plugin: plugin, key: key, bytes: bytes, expected: expectation) }) {
        case .success(let newVersion):
            version?.pointee = newVersion
            return .ok
        case .failure(let error):
            return status(of: error)
        }
    }

    private static func kvDelete(_ host: OpaquePointer?, _ key: sb_str, _ expected: UInt64) -> PluginStatus {
        guard let context = HostContext.from(host), let tenant = context.tenant(for: .kv), let store = context.environment.store else { return .denied }
        guard let key = validKey(key) else { return .invalid }
        let plugin = context.pluginID
        let expectation = expectedVersion(expected)
        switch waitFor({ try await store.deletePluginValue(tenant: tenant, plugin: plugin, key: key, expected: expectation) }) {
        case .success: return .ok
        case .failure(let error): return status(of: error)
        }
    }

    private static func emit(_ host: OpaquePointer?, _ name: sb_str, _ data: sb_str) -> PluginStatus {
        guard let context = HostContext.from(host), let tenant = context.tenant(for: .emit), let store = context.environment.store else { return .denied }
        let name = text(name)
        guard !name.isEmpty, name.count <= 64, name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_" || $0 == ".") }),
            let payload = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes(data))), case .object = payload
        else { return .invalid }
        let type = EventType("plugin.\(context.pluginID).\(name)")
        switch waitFor({ try await store.appendEvent(tenant: tenant, type: type, data: payload) }) {
        case .success: return .ok
        case .failure(let error): return status(of: error)
        }
    }

    private static func http(
        _ host: OpaquePointer?,
        _ request: UnsafePointer<sb_http_request>?,
        _ callback: sb_http_callback?,
        _ userData: UnsafeMutableRawPointer?
    ) -> PluginStatus {
        guard let context = HostContext.from(host), context.services.contains(.http), let client = context.environment.http else { return .denied }
        guard let request, let callback, Int(request.pointee.struct_size) >= MemoryLayout<sb_http_request>.size else { return .invalid }
        let method = text(request.pointee.method)
        let url = text(request.pointee.url)
        let body = bytes(request.pointee.body)
        var headers: [String: String] = [:]
        if request.pointee.headers_json.len > 0 {
            guard case .object(let fields)? = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes(request.pointee.headers_json))) else { return .invalid }
            for (name, value) in fields {
                guard case .string(let text) = value else { return .invalid }
                headers[name] = text
            }
        }
        let timeout = request.pointee.timeout_ms > 0 ? Duration.milliseconds(Int64(request.pointee.timeout_ms)) : context.httpTimeout
        let reply = HTTPReply(callback: callback, userData: userData)
        Task {
            let outcome = await client.perform(method: method, url: url, headers: headers, body: body, timeout: timeout)
            DispatchQueue.global().async { reply.deliver(outcome) }
        }
        return .pending
    }

    private static func metric(_ host: OpaquePointer?, _ name: sb_str, _ value: Double, histogram: Bool) {
        guard let context = HostContext.from(host), context.services.contains(.metrics), value.isFinite else { return }
        let name = text(name)
        guard !name.isEmpty, name.count <= 64, name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }) else { return }
        let dimensions = [("plugin", context.pluginID), ("tenant", context.tenantID ?? "")]
        if histogram {
            Recorder(label: "sb_plugin_\(name)", dimensions: dimensions, aggregate: true).record(value)
        } else if value >= 0 {
            Counter(label: "sb_plugin_\(name)", dimensions: dimensions).increment(by: Int64(value))
        }
    }

    private static func complete(_ host: OpaquePointer?, _ callID: UInt64, _ status: sb_status, _ result: sb_str) {
        guard let context = HostContext.from(host) else { return }
        context.environment.calls.finish(callID, CallOutcome(status: PluginStatus(status), body: bytes(result)), owner: ObjectIdentifier(context))
    }

    // MARK: - Helpers

    static func bytes(_ text: sb_str) -> [UInt8] {
        guard let pointer = text.ptr, text.len > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: text.len))
    }

    static func text(_ text: sb_str) -> String {
        String(decoding: bytes(text), as: UTF8.self)
    }

    /// Copies `bytes` into memory from the host's `alloc`, for the plugin to free.
    static func handOver(_ bytes: [UInt8]) -> sb_str {
        let memory = malloc(max(bytes.count, 1))!
        bytes.withUnsafeBytes { memory.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        return sb_str(ptr: memory.assumingMemoryBound(to: CChar.self), len: bytes.count)
    }

    /// Takes over text the plugin handed over, freeing it.
    static func takeOver(_ text: sb_str) -> [UInt8] {
        defer { Foundation.free(UnsafeMutableRawPointer(mutating: text.ptr)) }
        return bytes(text)
    }

    private static func validKey(_ key: sb_str) -> String? {
        guard key.len > 0, key.len <= 256 else { return nil }
        return text(key)
    }

    private static func expectedVersion(_ raw: UInt64) -> ExpectedVersion {
        switch raw {
        case UInt64.max: .any  // SB_KV_ANY_VERSION
        case 0: .absent
        default: .exactly(raw)
        }
    }

    private static func status(of error: any Error) -> PluginStatus {
        guard let error = error as? SwitchboardError else { return .internal }
        switch error.kind {
        case .conflict: return .conflict
        case .notFound: return .notFound
        case .invalidInput: return .invalid
        default: return .unavailable
        }
    }
}

/// A plugin's HTTP callback and its user data, carried to the thread that calls it.
private struct HTTPReply: @unchecked Sendable {
    // @unchecked: the plugin owns `userData` and promised it stays valid until its callback runs, once.
    let callback: sb_http_callback
    let userData: UnsafeMutableRawPointer?

    func deliver(_ outcome: PluginHTTPClient.Outcome) {
        let headers = (try? SwitchboardJSON.encode(outcome.headers)) ?? Array("{}".utf8)
        headers.withUnsafeBufferPointer { headerBytes in
            outcome.body.withUnsafeBufferPointer { bodyBytes in
                var response = sb_http_response(
                    struct_size: UInt32(MemoryLayout<sb_http_response>.size),
                    status_code: Int32(outcome.code),
                    headers_json: sb_str(ptr: UnsafeRawPointer(headerBytes.baseAddress)?.assumingMemoryBound(to: CChar.self), len: headerBytes.count),
                    body: sb_str(ptr: UnsafeRawPointer(bodyBytes.baseAddress)?.assumingMemoryBound(to: CChar.self), len: bodyBytes.count)
                )
                callback(userData, outcome.status.raw, &response)
            }
        }
    }
}
