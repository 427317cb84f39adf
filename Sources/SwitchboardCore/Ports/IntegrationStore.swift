import Foundation

/// One tenant's integration with one plugin, as stored.
public struct IntegrationRecord: Sendable, Equatable {
    public var tenantID: String
    public var pluginID: String
    public var isEnabled: Bool
    /// The configuration in its stored form: secret fields are sealed (see `SecretBox`).
    public var config: JSONValue
    /// The tenant event `seq` the plugin has acknowledged; delivery resumes after it.
    public var cursor: Int64
    public var updatedAt: Date
    public var version: Int64

    /// Creates a record.
    public init(tenantID: String, pluginID: String, isEnabled: Bool, config: JSONValue, cursor: Int64, updatedAt: Date, version: Int64) {
        self.tenantID = tenantID
        self.pluginID = pluginID
        self.isEnabled = isEnabled
        self.config = config
        self.cursor = cursor
        self.updatedAt = updatedAt
        self.version = version
    }
}

/// An event an integration failed too often to deliver, set aside so later events flow.
public struct ParkedEvent: Sendable, Equatable {
    public var tenantID: String
    public var pluginID: String
    public var seq: Int64
    public var type: String
    /// The last failure: the plugin's status and message, at most `maxErrorLength` characters.
    public var error: String
    public static let maxErrorLength = 1_000
    public var attempts: Int
    public var parkedAt: Date

    public init(tenantID: String, pluginID: String, seq: Int64, type: String, error: String, attempts: Int, parkedAt: Date) {
        self.tenantID = tenantID
        self.pluginID = pluginID
        self.seq = seq
        self.type = type
        self.error = error
        self.attempts = attempts
        self.parkedAt = parkedAt
    }
}

/// A value in a plugin's key-value space and its version (1 after the first put, +1 per put).
public struct PluginValue: Sendable, Equatable {
    public var bytes: [UInt8]
    public var version: UInt64

    /// Creates a value.
    public init(bytes: [UInt8], version: UInt64) {
        self.bytes = bytes
        self.version = version
    }
}

/// What a compare-and-set requires of the stored version.
public enum ExpectedVersion: Sendable, Equatable {
    /// Whatever is stored, or nothing.
    case any
    /// The key must not exist.
    case absent
    /// The stored version must be this one.
    case exactly(UInt64)
}

/// Per-tenant plugin integrations, their cursors and key-value data, and plugin-emitted events.
public protocol IntegrationStore: Sendable {
    /// Every integration of `tenant`, or of every tenant when nil, ordered by tenant and plugin.
    func integrations(tenant: String?) async throws -> [IntegrationRecord]
    func integration(tenant: String, plugin: String) async throws -> IntegrationRecord?
    /// Creates or replaces an integration. A new one starts its cursor at `initialCursor`; an existing one
    /// keeps its cursor.
    func saveIntegration(tenant: String, plugin: String, isEnabled: Bool, config: JSONValue, initialCursor: Int64) async throws -> IntegrationRecord
    /// Moves an integration's cursor forward (never back).
    func saveIntegrationCursor(tenant: String, plugin: String, seq: Int64) async throws
    /// Sets an event aside for an integration; parking it again updates its error and attempts.
    func parkEvent(_ event: ParkedEvent) async throws
    /// The integration's parked events, oldest seq first.
    func parkedEvents(tenant: String, plugin: String) async throws -> [ParkedEvent]
    /// The integrations (by tenant and plugin) that have parked events, across tenants, with how many.
    func parkedEventCounts() async throws -> [(tenant: String, plugin: String, count: Int)]
    /// Removes a parked event (delivered at last, or dropped); false when there was none.
    func removeParkedEvent(tenant: String, plugin: String, seq: Int64) async throws -> Bool

    func pluginValue(tenant: String, plugin: String, key: String) async throws -> PluginValue?
    /// Stores a value if `expected` holds and returns the new version.
    /// - Throws: a `conflict` error when the stored version differs.
    func putPluginValue(tenant: String, plugin: String, key: String, bytes: [UInt8], expected: ExpectedVersion) async throws -> UInt64
    /// Deletes a value if `expected` holds.
    /// - Throws: `not_found` when absent, `conflict` when the stored version differs.
    func deletePluginValue(tenant: String, plugin: String, key: String, expected: ExpectedVersion) async throws

    /// Appends an event to the tenant's log in its own transaction.
    func appendEvent(tenant: String, type: EventType, data: JSONValue) async throws -> Event
}
