import SwitchboardCore

/// A plugin as one tenant sees it: what the plugin is, whether it is enabled, its masked config and
/// how its instance is doing. The body of GET /api/v1/integrations/{plugin}.
public struct IntegrationView: Encodable, Sendable {
    /// Whether the tenant's instance runs.
    public enum State: Sendable, Equatable {
        case disabled
        case running
        /// Enabled, but no instance: the reason (e.g. the plugin refused the stored config at start).
        case failed(String)

        /// A state without its data, named as the API names it.
        public enum Kind: String, CaseIterable, Sendable {
            case disabled, running, failed
        }

        public var kind: Kind {
            switch self {
            case .disabled: .disabled
            case .running: .running
            case .failed: .failed
            }
        }

        /// `disabled`, `running` or `failed`.
        public var name: String { kind.rawValue }
    }

    public let manifest: PluginManifest
    public let abiVersion: String
    public let isolation: IntegrationManager.Isolation
    public let isEnabled: Bool
    /// The stored config with secrets masked; nil when never configured.
    public let config: JSONValue?
    public let cursor: Int64?
    public let state: State
    public let health: CallOutcome?
    /// The breaker of calls.
    public let breaker: CircuitBreaker?
    /// The breaker of event deliveries.
    public let eventBreaker: CircuitBreaker?
    /// Events set aside after repeated failures, oldest first.
    public let parked: [ParkedEvent]

    enum CodingKeys: String, CodingKey {
        case plugin, version, name, description, capabilities, events, services, abi, isolation, enabled, config, state, error, health, breaker, cursor
        case configSchema = "config_schema"
        case eventBreaker = "event_breaker"
        case parkedEvents = "parked_events"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(manifest.id, forKey: .plugin)
        try container.encode(manifest.version, forKey: .version)
        try container.encode(manifest.name, forKey: .name)
        try container.encode(manifest.description, forKey: .description)
        try container.encode(manifest.capabilities.map(\.name), forKey: .capabilities)
        try container.encode(manifest.events.map(\.text), forKey: .events)
        try container.encode(manifest.services.sorted().map(\.name), forKey: .services)
        try container.encode(abiVersion, forKey: .abi)
        try container.encode(isolation.name, forKey: .isolation)
        try container.encode(manifest.configSchema.document, forKey: .configSchema)
        try container.encode(isEnabled, forKey: .enabled)
        try container.encode(config, forKey: .config)
        try container.encode(cursor, forKey: .cursor)
        try container.encode(state.name, forKey: .state)
        if case .failed(let reason) = state { try container.encode(reason, forKey: .error) }
        if let health {
            // An instance that answers its health check but parked events is degraded: it says which.
            var fields: [String: JSONValue] = [
                "status": .string(health.status == .ok ? (parked.isEmpty ? "ok" : "degraded") : health.status.name),
                "detail": JSONValue(health.text.isEmpty ? nil : health.text),
            ]
            if let last = parked.last {
                fields["parked_events"] = JSONValue(Int64(parked.count))
                fields["last_parked"] = ["seq": JSONValue(last.seq), "event": .string(last.type), "error": .string(last.error)]
            }
            try container.encode(JSONValue.object(fields), forKey: .health)
        } else {
            try container.encodeNil(forKey: .health)
        }
        for (breaker, key) in [(breaker, CodingKeys.breaker), (eventBreaker, CodingKeys.eventBreaker)] {
            if let breaker {
                try container.encode(
                    JSONValue.object(["state": .string(breaker.state.name), "consecutive_failures": JSONValue(Int64(breaker.consecutiveFailures))]),
                    forKey: key
                )
            } else {
                try container.encodeNil(forKey: key)
            }
        }
        try container.encode(Int64(parked.count), forKey: .parkedEvents)
    }
}
