import Foundation

/// A customer as the tenant's CRM knows them, with the seed's fields, keyed by the CRM's own
/// `customer_id`.
public struct Customer: Codable, Hashable, Sendable {
    public var customerID: String
    public var name: String?
    public var phone: String?
    public var email: String?
    /// The CRM's grade for the customer, e.g. `vip` or `3`.
    public var level: String?
    public var tags: [String]
    /// Who last wrote the record: `api`, or the id of the CRM plugin that synced it.
    public var source: String
    /// The customer's id in the source system when it differs from `customer_id`.
    public var externalID: String?
    /// Visitors known to be this customer.
    public var visitorIDs: [String]
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int64

    enum CodingKeys: String, CodingKey {
        case name, phone, email, level, tags, source, version
        case customerID = "customer_id"
        case externalID = "external_id"
        case visitorIDs = "visitor_ids"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    /// Creates a customer record.
    public init(
        customerID: String,
        name: String? = nil,
        phone: String? = nil,
        email: String? = nil,
        level: String? = nil,
        tags: [String] = [],
        source: String = "api",
        externalID: String? = nil,
        visitorIDs: [String] = [],
        createdAt: Date,
        updatedAt: Date,
        version: Int64 = 1
    ) {
        self.customerID = customerID
        self.name = name
        self.phone = phone
        self.email = email
        self.level = level
        self.tags = tags
        self.source = source
        self.externalID = externalID
        self.visitorIDs = visitorIDs
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(customerID, forKey: .customerID)
        try container.encode(name, forKey: .name)
        try container.encode(phone, forKey: .phone)
        try container.encode(email, forKey: .email)
        try container.encode(level, forKey: .level)
        try container.encode(tags, forKey: .tags)
        try container.encode(source, forKey: .source)
        try container.encode(externalID, forKey: .externalID)
        try container.encode(visitorIDs, forKey: .visitorIDs)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(updatedAt, forKey: .updatedAt)
        try container.encode(version, forKey: .version)
    }
}

/// Fields of a customer to write: an upsert creates the customer or changes the fields present; nil
/// fields keep their stored value.
public struct CustomerChanges: Hashable, Sendable {
    public var name: String?
    public var phone: String?
    public var email: String?
    public var level: String?
    public var tags: [String]?
    public var source: String?
    public var externalID: String?
    /// Replaces the linked visitors.
    public var visitorIDs: [String]?
    /// Adds to the linked visitors (after any replacement), so two writers linking visitors at once
    /// lose neither.
    public var linkedVisitorIDs: [String]?

    /// Creates a change set.
    public init(
        name: String? = nil,
        phone: String? = nil,
        email: String? = nil,
        level: String? = nil,
        tags: [String]? = nil,
        source: String? = nil,
        externalID: String? = nil,
        visitorIDs: [String]? = nil,
        linkedVisitorIDs: [String]? = nil
    ) {
        self.name = name
        self.phone = phone
        self.email = email
        self.level = level
        self.tags = tags
        self.source = source
        self.externalID = externalID
        self.visitorIDs = visitorIDs
        self.linkedVisitorIDs = linkedVisitorIDs
    }
}

/// Filters of the customer list; nil fields match everything.
public struct CustomerFilter: Hashable, Sendable {
    /// Matched on digits only, so `+1 (555) 010-0000` finds `15550100000`.
    public var phone: String?
    public var tag: String?
    public var level: String?
    public var visitorID: String?

    /// Creates a filter.
    public init(phone: String? = nil, tag: String? = nil, level: String? = nil, visitorID: String? = nil) {
        self.phone = phone
        self.tag = tag
        self.level = level
        self.visitorID = visitorID
    }

    /// The digits of a phone number, the form phones are searched by.
    public static func phoneKey(_ phone: String) -> String {
        String(phone.unicodeScalars.filter { ("0"..."9").contains($0) }.map(Character.init))
    }
}

/// An order of a customer, with the seed's fields, keyed by the source system's `order_id`.
public struct Order: Encodable, Hashable, Sendable {
    public var orderID: String
    public var customerID: String
    public var amount: Double
    public var currency: String?
    public var status: String
    /// When the order was placed, in Unix seconds (the seed's `create_time`, written out in `timeZone`).
    public var createTime: Int64
    public var source: String
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int64
    /// The tenant's zone, in which `create_time` is written out.
    public var timeZone: TimeZone

    enum CodingKeys: String, CodingKey {
        case amount, currency, status, source, version
        case orderID = "order_id"
        case customerID = "customer_id"
        case createTime = "create_time"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    /// Creates an order record.
    public init(
        orderID: String,
        customerID: String,
        amount: Double,
        currency: String?,
        status: String,
        createTime: Int64,
        source: String,
        createdAt: Date,
        updatedAt: Date,
        version: Int64 = 1,
        timeZone: TimeZone = .utc
    ) {
        self.timeZone = timeZone
        self.orderID = orderID
        self.customerID = customerID
        self.amount = amount
        self.currency = currency
        self.status = status
        self.createTime = createTime
        self.source = source
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(orderID, forKey: .orderID)
        try container.encode(customerID, forKey: .customerID)
        try container.encode(amount, forKey: .amount)
        try container.encode(currency, forKey: .currency)
        try container.encode(status, forKey: .status)
        try container.encode(ExternalTime.text(createTime, zone: timeZone), forKey: .createTime)
        try container.encode(source, forKey: .source)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(updatedAt, forKey: .updatedAt)
        try container.encode(version, forKey: .version)
    }
}

/// An order to create or replace.
public struct OrderInput: Hashable, Sendable {
    public var orderID: String
    public var customerID: String
    public var amount: Double
    public var currency: String?
    public var status: String
    /// Nil: now.
    public var createTime: ExternalTime?
    public var source: String

    /// Creates the input.
    public init(
        orderID: String, customerID: String, amount: Double, currency: String? = nil, status: String, createTime: ExternalTime? = nil,
        source: String = "api"
    ) {
        self.orderID = orderID
        self.customerID = customerID
        self.amount = amount
        self.currency = currency
        self.status = status
        self.createTime = createTime
        self.source = source
    }
}
