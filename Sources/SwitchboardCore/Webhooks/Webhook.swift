import Foundation

/// A tenant's webhook endpoint: where matching events are POSTed, signed with its secret.
public struct Webhook: Sendable, Equatable, Encodable {
    public var id: String
    public var tenantID: String
    public var url: String
    public var events: [EventPattern]
    public var description: String?
    public var timeoutMilliseconds: Int
    /// Deliveries in flight at once: 1 keeps them in event order; more trades order for throughput.
    public var maxInFlight: Int
    public var isEnabled: Bool
    /// Why the server disabled the endpoint (it kept failing), or nil.
    public var disabledReason: String?
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int64

    /// Creates an endpoint record.
    public init(
        id: String,
        tenantID: String,
        url: String,
        events: [EventPattern],
        description: String?,
        timeoutMilliseconds: Int,
        maxInFlight: Int = 1,
        isEnabled: Bool,
        disabledReason: String?,
        createdAt: Date,
        updatedAt: Date,
        version: Int64
    ) {
        self.id = id
        self.tenantID = tenantID
        self.url = url
        self.events = events
        self.description = description
        self.timeoutMilliseconds = timeoutMilliseconds
        self.maxInFlight = maxInFlight
        self.isEnabled = isEnabled
        self.disabledReason = disabledReason
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }

    enum CodingKeys: String, CodingKey {
        case id, url, events, description, version
        case tenantID = "tenant_id"
        case timeoutMilliseconds = "timeout_ms"
        case maxInFlight = "max_in_flight"
        case isEnabled = "enabled"
        case disabledReason = "disabled_reason"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(tenantID, forKey: .tenantID)
        try container.encode(url, forKey: .url)
        try container.encode(events.map(\.text), forKey: .events)
        try container.encode(description, forKey: .description)
        try container.encode(timeoutMilliseconds, forKey: .timeoutMilliseconds)
        try container.encode(maxInFlight, forKey: .maxInFlight)
        try container.encode(isEnabled, forKey: .isEnabled)
        try container.encode(disabledReason, forKey: .disabledReason)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(updatedAt, forKey: .updatedAt)
        try container.encode(version, forKey: .version)
    }
}

/// One event (or ping) on its way to one endpoint, with every attempt so far.
public struct WebhookDelivery: Sendable, Equatable, Encodable {
    /// Where a delivery stands.
    public struct Status: NamedOption, Encodable {
        public let name: String
        /// Waiting for its next attempt.
        public static let pending = Status(name: "pending")
        /// A 2xx answer arrived.
        public static let succeeded = Status(name: "succeeded")
        /// The receiver answered a 4xx that is not retried (not 408 or 429).
        public static let failed = Status(name: "failed")
        /// Every retry of the schedule failed.
        public static let dead = Status(name: "dead")

        public static let all: [Status] = [.pending, .succeeded, .failed, .dead]

        private init(name: String) { self.name = name }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(name)
        }
    }

    /// Also the `webhook-id` header: the same for every attempt.
    public var id: String
    public var webhookID: String
    public var tenantID: String
    /// The event's id; nil for a ping.
    public var eventID: String?
    public var eventType: String
    /// The tenant event's `seq`; nil for a ping.
    public var seq: Int64?
    public var status: Status
    public var nextAttemptAt: Date?
    public var createdAt: Date
    /// How many attempts were made so far.
    public var attemptCount: Int
    /// The attempts, oldest first (filled by delivery listings).
    public var attempts: [WebhookAttempt]
    /// The JSON body sent.
    public var payload: [UInt8]

    /// Creates a delivery record.
    public init(
        id: String,
        webhookID: String,
        tenantID: String,
        eventID: String?,
        eventType: String,
        seq: Int64?,
        status: Status,
        nextAttemptAt: Date?,
        createdAt: Date,
        attemptCount: Int = 0,
        attempts: [WebhookAttempt] = [],
        payload: [UInt8]
    ) {
        self.id = id
        self.webhookID = webhookID
        self.tenantID = tenantID
        self.eventID = eventID
        self.eventType = eventType
        self.seq = seq
        self.status = status
        self.nextAttemptAt = nextAttemptAt
        self.createdAt = createdAt
        self.attemptCount = attemptCount
        self.attempts = attempts
        self.payload = payload
    }

    enum CodingKeys: String, CodingKey {
        case id, seq, status, attempts
        case webhookID = "webhook_id"
        case eventType = "event"
        case nextAttemptAt = "next_attempt_at"
        case createdAt = "created_at"
        case attemptCount = "attempt_count"
    }
}

/// One HTTP attempt of a delivery.
public struct WebhookAttempt: Sendable, Equatable, Codable {
    public var at: Date
    /// The HTTP status, or nil when no response arrived.
    public var statusCode: Int?
    public var latencyMilliseconds: Int
    /// Why no response arrived (timeout, connection refused, refused address).
    public var error: String?
    /// The first 1 KiB of the response body.
    public var responseBody: String?

    /// Creates an attempt record.
    public init(at: Date, statusCode: Int?, latencyMilliseconds: Int, error: String?, responseBody: String?) {
        self.at = at
        self.statusCode = statusCode
        self.latencyMilliseconds = latencyMilliseconds
        self.error = error
        self.responseBody = responseBody
    }

    enum CodingKeys: String, CodingKey {
        case at, error
        case statusCode = "status_code"
        case latencyMilliseconds = "latency_ms"
        case responseBody = "response_body"
    }
}

/// What an attempt decided for its delivery.
public enum WebhookAttemptResult: Sendable, Equatable {
    case succeeded
    case failed
    case retry(at: Date)
    case dead
}
