import Foundation
import Logging
import Metrics
import SwitchboardCore

/// An outgoing HTTP request of a plugin, copied out of its `sb_http_request`.
struct PluginHTTPRequest: Sendable {
    var method: String
    var url: String
    /// A JSON object of header names to values, or empty.
    var headers: [UInt8]
    var body: [UInt8]
    /// 0: the plugin's default.
    var timeoutMilliseconds: UInt32
}

/// What the host services of the C table do. In the server they act on the store, the network and the
/// call registry (``LocalPluginServices``); in a `plugin-host` child process they ask the parent, which
/// answers with its own local services, so the parent alone decides what an instance may do.
protocol PluginServices: Sendable {
    func log(_ context: HostContext, level: Logger.Level, message: String)
    func kvGet(_ context: HostContext, key: String) -> (PluginStatus, PluginValue?)
    func kvPut(_ context: HostContext, key: String, bytes: [UInt8], expected: ExpectedVersion) -> (PluginStatus, UInt64)
    func kvDelete(_ context: HostContext, key: String, expected: ExpectedVersion) -> PluginStatus
    func emit(_ context: HostContext, name: String, data: [UInt8]) -> PluginStatus
    /// Starts a request; `reply` runs exactly once when the answer is `.pending`, never otherwise.
    func http(_ context: HostContext, _ request: PluginHTTPRequest, reply: @escaping @Sendable (PluginHTTPClient.Outcome) -> Void) -> PluginStatus
    func metric(_ context: HostContext, name: String, value: Double, isHistogram: Bool)
    func complete(_ context: HostContext, callID: UInt64, _ outcome: CallOutcome)
}

/// Host services of the server process, checked against each context's manifest and tenant.
///
/// - Important: `kvPut`, `kvDelete` and `emit` block their caller until the store committed; plugins
///   call them from hook threads or their own threads, never from Swift's cooperative pool.
struct LocalPluginServices: PluginServices {
    let store: (any IntegrationStore)?
    let http: PluginHTTPClient?
    /// Where plugin counters and histograms go; nil drops them.
    let metrics: (any MetricsFactory)?
    let calls: CallRegistry

    func log(_ context: HostContext, level: Logger.Level, message: String) {
        guard context.services.contains(.log) || context.tenantID == nil else { return }
        context.logger.log(level: level, "Plugin log", metadata: ["sb.message": .string(message)])
    }

    func kvGet(_ context: HostContext, key: String) -> (PluginStatus, PluginValue?) {
        guard let tenant = context.tenant(for: .kv), let store else { return (.denied, nil) }
        let plugin = context.pluginID
        switch waitFor({ try await store.pluginValue(tenant: tenant, plugin: plugin, key: key) }) {
        case .success(let value?): return (.ok, value)
        case .success(nil): return (.notFound, nil)
        case .failure: return (.unavailable, nil)
        }
    }

    func kvPut(_ context: HostContext, key: String, bytes: [UInt8], expected: ExpectedVersion) -> (PluginStatus, UInt64) {
        guard let tenant = context.tenant(for: .kv), let store else { return (.denied, 0) }
        let plugin = context.pluginID
        switch waitFor({ try await store.putPluginValue(tenant: tenant, plugin: plugin, key: key, bytes: bytes, expected: expected) }) {
        case .success(let version): return (.ok, version)
        case .failure(let error): return (Self.status(of: error), 0)
        }
    }

    func kvDelete(_ context: HostContext, key: String, expected: ExpectedVersion) -> PluginStatus {
        guard let tenant = context.tenant(for: .kv), let store else { return .denied }
        let plugin = context.pluginID
        switch waitFor({ try await store.deletePluginValue(tenant: tenant, plugin: plugin, key: key, expected: expected) }) {
        case .success: return .ok
        case .failure(let error): return Self.status(of: error)
        }
    }

    func emit(_ context: HostContext, name: String, data: [UInt8]) -> PluginStatus {
        guard let tenant = context.tenant(for: .emit), let store else { return .denied }
        guard !name.isEmpty, name.count <= 64, name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_" || $0 == ".") }),
            let payload = try? JSONValue(parsing: data), case .object = payload
        else { return .invalid }
        let type = EventType("plugin.\(context.pluginID).\(name)")
        switch waitFor({ try await store.appendEvent(tenant: tenant, type: type, data: payload) }) {
        case .success: return .ok
        case .failure(let error): return Self.status(of: error)
        }
    }

    func http(_ context: HostContext, _ request: PluginHTTPRequest, reply: @escaping @Sendable (PluginHTTPClient.Outcome) -> Void) -> PluginStatus {
        guard context.services.contains(.http), let http else { return .denied }
        var headers: [String: String] = [:]
        if !request.headers.isEmpty {
            guard case .object(let fields)? = try? JSONValue(parsing: request.headers) else { return .invalid }
            for (name, value) in fields {
                guard case .string(let text) = value else { return .invalid }
                headers[name] = text
            }
        }
        let timeout = request.timeoutMilliseconds > 0 ? Duration.milliseconds(Int64(request.timeoutMilliseconds)) : context.httpTimeout
        guard context.admitHTTP() else { return .unavailable }
        Task {
            let outcome = await http.perform(method: request.method, url: request.url, headers: headers, body: request.body, timeout: timeout)
            // Counted out before the callback, which may ask for the next request.
            context.finishHTTP()
            reply(outcome)
        }
        return .pending
    }

    func metric(_ context: HostContext, name: String, value: Double, isHistogram: Bool) {
        guard let metrics, context.services.contains(.metrics), PluginMetric.isValid(name: name, value: value, histogram: isHistogram) else { return }
        let dimensions = [("plugin", context.pluginID), ("tenant", context.tenantID ?? "")]
        if isHistogram {
            metrics.makeRecorder(label: "sb_plugin_\(name)", dimensions: dimensions, aggregate: true).record(value)
        } else if value >= 0, let amount = Int64(exactly: value.rounded(.down)) {
            metrics.makeCounter(label: "sb_plugin_\(name)", dimensions: dimensions).increment(by: amount)
        }
    }

    func complete(_ context: HostContext, callID: UInt64, _ outcome: CallOutcome) {
        calls.finish(callID, outcome, owner: ObjectIdentifier(context))
    }

    static func status(of error: any Error) -> PluginStatus {
        guard let error = error as? SwitchboardError else { return .internal }
        switch error.kind {
        case .conflict: return .conflict
        case .notFound: return .notFound
        case .invalidInput: return .invalid
        default: return .unavailable
        }
    }
}

extension ExpectedVersion {
    /// The expectation of an ABI `expected_version`: `SB_KV_ANY_VERSION`, 0 (absent) or a version.
    init(raw: UInt64) {
        switch raw {
        case UInt64.max: self = .any
        case 0: self = .absent
        default: self = .exactly(raw)
        }
    }

    /// The ABI form.
    var raw: UInt64 {
        switch self {
        case .any: UInt64.max
        case .absent: 0
        case .exactly(let version): version
        }
    }
}

/// The rules a plugin's metric meets: a name of 1-64 characters of `a-z 0-9 _` (it becomes
/// `sb_plugin_<name>`), a finite value, and no negative counter increment.
enum PluginMetric {
    static func isValid(name: String, value: Double, histogram: Bool) -> Bool {
        value.isFinite && (histogram || (value >= 0 && value < 9.2e18)) && !name.isEmpty && name.count <= 64
            && name.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }
    }
}
