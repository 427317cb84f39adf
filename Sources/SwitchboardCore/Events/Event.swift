/// One entry of a tenant's durable event log.
///
/// The JSON shape is the seed's callback shape `{event, timestamp, data}` plus `id`, `version`,
/// `tenant_id` and `seq`; `timestamp` is Unix seconds.
public struct Event: Codable, Hashable, Sendable {
    /// The current version of the envelope.
    public static let envelopeVersion = 1

    /// A time-ordered id, stable wherever the event is delivered.
    public var id: String
    public var type: EventType
    public var version: Int
    public var tenantID: String
    /// The tenant's gap-free sequence number, starting at 1.
    public var seq: Int64
    /// Commit time in Unix seconds.
    public var timestamp: Int64
    public var data: JSONValue
    /// The position in the log across all tenants: commit order, not gap-free per tenant.
    /// Consumers use it as their cursor; it is not part of the JSON shape.
    public var position: Int64

    enum CodingKeys: String, CodingKey {
        case id, version, seq, timestamp, data
        case type = "event"
        case tenantID = "tenant_id"
    }

    /// Creates an event record.
    public init(id: String, type: EventType, version: Int = Event.envelopeVersion, tenantID: String, seq: Int64, timestamp: Int64, data: JSONValue, position: Int64) {
        self.id = id
        self.type = type
        self.version = version
        self.tenantID = tenantID
        self.seq = seq
        self.timestamp = timestamp
        self.data = data
        self.position = position
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.id = try container.decode(String.self, forKey: .id)
        self.type = try container.decode(EventType.self, forKey: .type)
        self.version = try container.decode(Int.self, forKey: .version)
        self.tenantID = try container.decode(String.self, forKey: .tenantID)
        self.seq = try container.decode(Int64.self, forKey: .seq)
        self.timestamp = try container.decode(Int64.self, forKey: .timestamp)
        self.data = try container.decode(JSONValue.self, forKey: .data)
        self.position = 0
    }
}

/// A change of state to append to the log: its type and seed-shaped data.
public struct DomainEvent: Hashable, Sendable {
    public var type: EventType
    public var data: JSONValue

    /// Creates a pending event.
    public init(type: EventType, data: JSONValue) {
        self.type = type
        self.data = data
    }
}
