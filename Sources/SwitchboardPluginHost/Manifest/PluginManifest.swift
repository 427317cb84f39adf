import Foundation
import SwitchboardCore

/// What a plugin says about itself through `sb_plugin_manifest_v1` (see switchboard_plugin.h).
public struct PluginManifest: Sendable {
    /// What a plugin can do for the core.
    public struct Capability: Hashable, Sendable, Comparable {
        public let name: String
        public static let eventListener = Capability(name: "event_listener")
        public static let crm = Capability(name: "crm")
        public static let ticketing = Capability(name: "ticketing")
        public static let statsSink = Capability(name: "stats_sink")
        public static let authProvider = Capability(name: "auth_provider")
        public static let all: [Capability] = [.eventListener, .crm, .ticketing, .statsSink, .authProvider]
        public static func < (left: Capability, right: Capability) -> Bool { left.name < right.name }
    }

    /// A host service a plugin may call.
    public struct Service: Hashable, Sendable, Comparable {
        public let name: String
        public static let log = Service(name: "log")
        public static let kv = Service(name: "kv")
        public static let emit = Service(name: "emit")
        public static let http = Service(name: "http")
        public static let metrics = Service(name: "metrics")
        static let all: [Service] = [.log, .kv, .emit, .http, .metrics]
        public static func < (left: Service, right: Service) -> Bool { left.name < right.name }
    }

    public var id: String
    public var version: String
    public var name: String?
    public var description: String?
    public var capabilities: [Capability]
    /// The event types delivered to `on_event`.
    public var events: [EventPattern]
    public var services: Set<Service>
    /// The `call` ops the plugin declares (`"ops"`); with the ops the host calls, these are the ops
    /// that get their own metric label.
    public var ops: Set<String>
    public var configSchema: ConfigSchema
    public var serializesCalls: Bool
    public var callTimeout: Duration
    public var httpTimeout: Duration
    /// The manifest as the plugin wrote it.
    public var document: JSONValue

    /// Parses and checks manifest JSON.
    /// - Throws: ``ManifestError`` saying what is wrong.
    public init(json: [UInt8]) throws {
        let document: JSONValue
        do {
            document = try JSONValue(parsing: json)
        } catch {
            throw ManifestError(message: "the manifest is not valid JSON")
        }
        guard case .object(let fields) = document else { throw ManifestError(message: "the manifest must be a JSON object") }
        let known: Set<String> = [
            "id", "version", "name", "description", "capabilities", "events", "services", "config_schema", "serialize_calls",
            "call_timeout_ms", "http_timeout_ms", "ops",
        ]
        if let unknown = fields.keys.sorted().first(where: { !known.contains($0) }) {
            throw ManifestError(message: "the manifest field '\(unknown)' is unknown")
        }
        guard case .string(let id)? = fields["id"], Self.isValidID(id) else {
            throw ManifestError(message: "the manifest needs an \"id\" of 1-64 characters [a-z0-9_-] starting with a letter or digit")
        }
        guard case .string(let version)? = fields["version"], !version.isEmpty else {
            throw ManifestError(message: "the manifest needs a non-empty \"version\"")
        }
        self.id = id
        self.version = version
        self.name = try Self.optionalString(fields, "name")
        self.description = try Self.optionalString(fields, "description")
        let capabilityNames = try Self.strings(fields, "capabilities")
        guard !capabilityNames.isEmpty else { throw ManifestError(message: "the manifest needs at least one capability") }
        self.capabilities = try capabilityNames.map { name in
            guard let capability = Capability.all.first(where: { $0.name == name }) else {
                throw ManifestError(message: "the capability '\(name)' is unknown")
            }
            return capability
        }
        self.events = try Self.strings(fields, "events").map { text in
            guard let pattern = EventPattern(text) else {
                throw ManifestError(message: "the event pattern '\(text)' is not an event type, 'prefix.*' or '*'")
            }
            return pattern
        }
        self.services = Set(
            try Self.strings(fields, "services").map { name in
                guard let service = Service.all.first(where: { $0.name == name }) else {
                    throw ManifestError(message: "the host service '\(name)' is unknown")
                }
                return service
            }
        )
        let ops = try Self.strings(fields, "ops")
        guard ops.count <= Self.maxOps, ops.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 128 }) else {
            throw ManifestError(message: "\"ops\" must list at most \(Self.maxOps) ops of 1 to 128 bytes")
        }
        self.ops = Set(ops)
        do {
            self.configSchema = try ConfigSchema(fields["config_schema"] ?? .object(["type": .string("object")]))
        } catch let error as ConfigSchemaError {
            throw ManifestError(message: "the config schema is invalid: \(error.message)")
        }
        switch fields["serialize_calls"] {
        case nil: self.serializesCalls = false
        case .bool(let value)?: self.serializesCalls = value
        default: throw ManifestError(message: "\"serialize_calls\" must be a boolean")
        }
        self.callTimeout = try Self.milliseconds(fields, "call_timeout_ms", default: 5_000)
        self.httpTimeout = try Self.milliseconds(fields, "http_timeout_ms", default: 10_000)
        self.document = document
    }

    /// The most ops a manifest may declare: each is a metric label value.
    static let maxOps = 64

    /// The ops the host itself calls on plugins.
    static let hostOps: Set<String> = ["crm.lookup_customer", "ticketing.create_ticket", "ticketing.sync", "inbound.receive", "stats.push", "auth.verify"]

    /// The value of the `op` label for a call of `op`: the op when the manifest declares it or the
    /// host calls it, else `other`, so callers cannot make a label value for every op they send.
    public func metricLabel(op: String) -> String {
        ops.contains(op) || Self.hostOps.contains(op) ? op : "other"
    }

    /// Whether the plugin asked for events of `type`.
    public func wants(_ type: EventType) -> Bool {
        events.matches(type)
    }

    static func isValidID(_ id: String) -> Bool {
        guard let first = id.unicodeScalars.first, id.unicodeScalars.count <= 64 else { return false }
        let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyz0123456789_-")
        return CharacterSet.alphanumerics.contains(first) && first != "_" && id.unicodeScalars.allSatisfy(allowed.contains)
    }

    private static func optionalString(_ fields: [String: JSONValue], _ key: String) throws -> String? {
        switch fields[key] {
        case nil: return nil
        case .string(let value)?: return value
        default: throw ManifestError(message: "\"\(key)\" must be a string")
        }
    }

    private static func strings(_ fields: [String: JSONValue], _ key: String) throws -> [String] {
        guard let value = fields[key] else { return [] }
        guard case .array(let items) = value else { throw ManifestError(message: "\"\(key)\" must be an array of strings") }
        return try items.map { item in
            guard case .string(let text) = item else { throw ManifestError(message: "\"\(key)\" must be an array of strings") }
            return text
        }
    }

    private static func milliseconds(_ fields: [String: JSONValue], _ key: String, default fallback: Int64) throws -> Duration {
        guard let value = fields[key] else { return .milliseconds(fallback) }
        guard let milliseconds = value.integerValue, (1...600_000).contains(milliseconds) else {
            throw ManifestError(message: "\"\(key)\" must be an integer between 1 and 600000")
        }
        return .milliseconds(milliseconds)
    }
}

/// Why a manifest was refused.
public struct ManifestError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { message }
}
