import CSwitchboardPlugin
import Dispatch
import Foundation
import Logging
import SwitchboardCore

/// The `sb_host_api` table handed to every plugin's init: C functions that find their
/// ``HostContext`` through the `sb_host *` argument.
package final class HostAPI: @unchecked Sendable {
    // @unchecked: the table is written once in init and only read afterwards, by plugins on any thread.
    let table: UnsafeMutablePointer<sb_host_api>

    /// The one table of the process; plugins keep its pointer forever.
    package static let shared = HostAPI()

    private init() {
        table = .allocate(capacity: 1)
        table.initialize(
            to: sb_host_api(
                struct_size: UInt32(MemoryLayout<sb_host_api>.size),
                abi_major: UInt16(SB_ABI_VERSION_MAJOR),
                abi_minor: UInt16(SB_ABI_VERSION_MINOR),
                alloc: { size in malloc(max(size, 1)) },
                free: { pointer in Foundation.free(UnsafeMutableRawPointer(mutating: pointer)) },
                log: { host, level, message in HostAPI.log(host, level, message) },
                kv_get: { host, key, value, version in HostAPI.kvGet(host, key, value, version).raw },
                kv_put: { host, key, value, expected, version in HostAPI.kvPut(host, key, value, expected, version).raw },
                kv_delete: { host, key, expected in HostAPI.kvDelete(host, key, expected).raw },
                emit_event: { host, name, data in HostAPI.emit(host, name, data).raw },
                http_request: { host, request, callback, userData in HostAPI.http(host, request, callback, userData).raw },
                metric_counter: { host, name, delta in HostAPI.metric(host, name, delta, histogram: false) },
                metric_histogram: { host, name, value in HostAPI.metric(host, name, value, histogram: true) },
                complete: { host, callID, status, result in HostAPI.complete(host, callID, status, result) },
                log_checked: { host, level, message in HostAPI.logChecked(host, level, message).raw },
                metric_checked: { host, name, value, histogram in HostAPI.metricChecked(host, name, value, histogram: histogram != 0).raw }
            )
        )
    }

    // MARK: - Services: C arguments to Swift values; `PluginServices` does the work.

    private static func log(_ host: OpaquePointer?, _ level: sb_log_level, _ message: sb_str) {
        guard let context = HostContext.from(host) else { return }
        let levels: [Logger.Level] = [.trace, .debug, .info, .warning, .error]
        let index = Int(level.rawValue)
        context.environment.services.log(context, level: levels.indices.contains(index) ? levels[index] : .error, message: text(message))
    }

    private static func logChecked(_ host: OpaquePointer?, _ level: sb_log_level, _ message: sb_str) -> PluginStatus {
        guard HostContext.from(host) != nil else { return .denied }
        guard (0..<5).contains(Int(level.rawValue)) else { return .invalid }
        log(host, level, message)
        return .ok
    }

    private static func metricChecked(_ host: OpaquePointer?, _ name: sb_str, _ value: Double, histogram: Bool) -> PluginStatus {
        guard let context = HostContext.from(host) else { return .denied }
        guard context.services.contains(.metrics) else { return .denied }
        guard PluginMetric.isValid(name: text(name), value: value, histogram: histogram) else { return .invalid }
        metric(host, name, value, histogram: histogram)
        return .ok
    }

    private static func kvGet(_ host: OpaquePointer?, _ key: sb_str, _ value: UnsafeMutablePointer<sb_str>?, _ version: UnsafeMutablePointer<UInt64>?) -> PluginStatus {
        guard let context = HostContext.from(host) else { return .denied }
        guard let key = validKey(key), let value else { return .invalid }
        let (status, stored) = context.environment.services.kvGet(context, key: key)
        if let stored {
            value.pointee = handOver(stored.bytes)
            version?.pointee = stored.version
        }
        return status
    }

    private static func kvPut(_ host: OpaquePointer?, _ key: sb_str, _ value: sb_str, _ expected: UInt64, _ version: UnsafeMutablePointer<UInt64>?) -> PluginStatus {
        guard let context = HostContext.from(host) else { return .denied }
        guard let key = validKey(key), value.len <= 1 << 20 else { return .invalid }
        let (status, newVersion) = context.environment.services.kvPut(context, key: key, bytes: bytes(value), expected: ExpectedVersion(raw: expected))
        if status == .ok { version?.pointee = newVersion }
        return status
    }

    private static func kvDelete(_ host: OpaquePointer?, _ key: sb_str, _ expected: UInt64) -> PluginStatus {
        guard let context = HostContext.from(host) else { return .denied }
        guard let key = validKey(key) else { return .invalid }
        return context.environment.services.kvDelete(context, key: key, expected: ExpectedVersion(raw: expected))
    }

    private static func emit(_ host: OpaquePointer?, _ name: sb_str, _ data: sb_str) -> PluginStatus {
        guard let context = HostContext.from(host) else { return .denied }
        return context.environment.services.emit(context, name: text(name), data: bytes(data))
    }

    private static func http(
        _ host: OpaquePointer?,
        _ request: UnsafePointer<sb_http_request>?,
        _ callback: sb_http_callback?,
        _ userData: UnsafeMutableRawPointer?
    ) -> PluginStatus {
        guard let context = HostContext.from(host) else { return .denied }
        guard let request, let callback, Int(request.pointee.struct_size) >= MemoryLayout<sb_http_request>.size else { return .invalid }
        let outgoing = PluginHTTPRequest(
            method: text(request.pointee.method),
            url: text(request.pointee.url),
            headers: bytes(request.pointee.headers_json),
            body: bytes(request.pointee.body),
            timeoutMilliseconds: request.pointee.timeout_ms
        )
        let reply = HTTPReply(callback: callback, userData: userData)
        return context.environment.services.http(context, outgoing) { outcome in
            DispatchQueue.runOnThreadOfItsOwn(label: "switchboard.plugin.http-reply") { reply.deliver(outcome) }
        }
    }

    private static func metric(_ host: OpaquePointer?, _ name: sb_str, _ value: Double, histogram: Bool) {
        guard let context = HostContext.from(host) else { return }
        context.environment.services.metric(context, name: text(name), value: value, isHistogram: histogram)
    }

    private static func complete(_ host: OpaquePointer?, _ callID: UInt64, _ status: sb_status, _ result: sb_str) {
        guard let context = HostContext.from(host) else { return }
        context.environment.services.complete(context, callID: callID, CallOutcome(status: PluginStatus(status), body: bytes(result)))
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
