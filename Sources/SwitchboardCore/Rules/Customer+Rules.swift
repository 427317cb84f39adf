import Foundation

extension Validation {
    static let maxKeyLength = 128
    static let maxTags = 32
    static let maxLinkedVisitors = 32

    /// A key chosen by the tenant's own systems (`customer_id`, `order_id`): 1 to 128 characters of
    /// letters, digits and `._:@-`, so it can stand in a URL path as it is.
    static func key(_ key: String, field: String) throws -> String {
        let allowed = key.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "._:@-".unicodeScalars.contains(scalar))
        }
        guard !key.isEmpty, key.count <= maxKeyLength, allowed else {
            throw SwitchboardError.invalidField(field, "The field '\(field)' must be 1 to \(maxKeyLength) characters of letters, digits and ._:@-.")
        }
        return key
    }

    static func phone(_ phone: String?) throws -> String? {
        guard let phone = phone?.trimmingCharacters(in: .whitespaces) else { return nil }
        let allowed = phone.unicodeScalars.allSatisfy { "0123456789+-() .".unicodeScalars.contains($0) }
        guard allowed, phone.count <= 32, CustomerFilter.phoneKey(phone).count >= 3 else {
            throw SwitchboardError.invalidField("phone", "The field 'phone' must be a phone number: digits, spaces and +-().")
        }
        return phone
    }

    /// Unique, sorted visitor ids, at most `maxLinkedVisitors` of them.
    static func visitorIDs(_ ids: [String]?) throws -> [String]? {
        guard let ids else { return nil }
        guard ids.count <= maxLinkedVisitors else { throw tooManyVisitors }
        return Array(Set(try ids.map { try id($0, field: "visitor_ids") })).sorted()
    }

    static let tooManyVisitors = SwitchboardError.invalidField("visitor_ids", "At most \(maxLinkedVisitors) visitors.")

    /// Trimmed, non-empty, unique tags, in the order given.
    static func tags(_ tags: [String]?) throws -> [String]? {
        guard let tags else { return nil }
        guard tags.count <= maxTags else { throw SwitchboardError.invalidField("tags", "At most \(maxTags) tags.") }
        var seen = Set<String>()
        return try tags.map { try requiredText($0, field: "tags", maxLength: 64) }.filter { seen.insert($0).inserted }
    }
}

extension CustomerChanges {
    /// Returns the changes with text trimmed, or throws the first invalid field.
    public func validated() throws -> CustomerChanges {
        var changes = self
        changes.name = try Validation.optionalText(name, field: "name", maxLength: Validation.maxNameLength)
        changes.phone = try Validation.phone(phone)
        changes.email = try Validation.email(email)
        changes.level = try Validation.optionalText(level, field: "level", maxLength: 64)
        changes.tags = try Validation.tags(tags)
        changes.source = try source.map { try Validation.key($0, field: "source") }
        changes.externalID = try Validation.optionalText(externalID, field: "external_id", maxLength: Validation.maxExternalIDLength)
        changes.visitorIDs = try Validation.visitorIDs(visitorIDs)
        changes.linkedVisitorIDs = try Validation.visitorIDs(linkedVisitorIDs)
        return changes
    }
}

extension Customer {
    /// Creates `customerID` from validated changes, or applies them to `existing`; returns
    /// `customer.synced` when anything was created or changed.
    /// - Throws: `invalid_field` (visitor_ids) when linking would exceed the most visitors a customer has.
    public static func upsert(_ existing: Customer?, customerID: String, _ changes: CustomerChanges, now: Date) throws -> (Customer, [DomainEvent]) {
        var customer = existing ?? Customer(customerID: customerID, createdAt: now, updatedAt: now, version: 0)
        let before = customer
        customer.name = changes.name ?? customer.name
        customer.phone = changes.phone ?? customer.phone
        customer.email = changes.email ?? customer.email
        customer.level = changes.level ?? customer.level
        customer.tags = changes.tags ?? customer.tags
        customer.source = changes.source ?? customer.source
        customer.externalID = changes.externalID ?? customer.externalID
        customer.visitorIDs = changes.visitorIDs ?? customer.visitorIDs
        if let linked = changes.linkedVisitorIDs {
            customer.visitorIDs = Array(Set(customer.visitorIDs).union(linked)).sorted()
            guard customer.visitorIDs.count <= Validation.maxLinkedVisitors else { throw Validation.tooManyVisitors }
        }
        guard existing == nil || customer != before else { return (customer, []) }
        customer.updatedAt = now
        customer.version += 1
        return (customer, [DomainEvent(type: .customerSynced, data: customer.eventData(created: existing == nil))])
    }

    /// The data of `customer.synced`: the record as the seed names it.
    func eventData(created: Bool) -> JSONValue {
        [
            "customer_id": .string(customerID), "name": JSONValue(name), "phone": JSONValue(phone), "email": JSONValue(email),
            "level": JSONValue(level), "tags": .array(tags.map(JSONValue.string)), "source": .string(source),
            "external_id": JSONValue(externalID), "visitor_ids": .array(visitorIDs.map(JSONValue.string)), "created": .bool(created),
        ]
    }

    /// The `customer.deleted` event of removing this customer and its orders.
    public var deletionEvent: DomainEvent {
        DomainEvent(type: .customerDeleted, data: ["customer_id": .string(customerID)])
    }
}

extension OrderInput {
    /// Returns the input validated, or throws the first invalid field.
    public func validated() throws -> OrderInput {
        var input = self
        input.orderID = try Validation.key(orderID, field: "order_id")
        input.customerID = try Validation.key(customerID, field: "customer_id")
        guard amount.isFinite, amount >= 0, amount < 1e15 else {
            throw SwitchboardError.invalidField("amount", "The field 'amount' must be a number from 0 to 10^15.")
        }
        if let currency, !(currency.count == 3 && currency.unicodeScalars.allSatisfy({ ("A"..."Z").contains($0) })) {
            throw SwitchboardError.invalidField("currency", "The field 'currency' must be an ISO 4217 code such as EUR.")
        }
        input.status = try Validation.requiredText(status, field: "status", maxLength: 64)
        input.source = try Validation.key(source, field: "source")
        return input
    }
}

extension Order {
    /// Creates the order or replaces `existing`; returns `order.linked` when anything was created or changed.
    /// - Parameter zone: the tenant's, in which a wall-clock `create_time` is read and every one written.
    public static func upsert(_ existing: Order?, _ input: OrderInput, zone: TimeZone, now: Date) throws -> (Order, [DomainEvent]) {
        var order = Order(
            orderID: input.orderID,
            customerID: input.customerID,
            amount: input.amount,
            currency: input.currency,
            status: input.status,
            createTime: try input.createTime?.seconds(in: zone, field: "create_time") ?? existing?.createTime ?? Int64(now.timeIntervalSince1970),
            source: input.source,
            createdAt: existing?.createdAt ?? now,
            updatedAt: existing?.updatedAt ?? now,
            version: existing?.version ?? 1,
            timeZone: zone
        )
        if let existing {
            guard order != existing else { return (order, []) }
            order.updatedAt = now
            order.version += 1
        }
        let data: JSONValue = [
            "order_id": .string(order.orderID), "customer_id": .string(order.customerID), "amount": .number(order.amount),
            "currency": JSONValue(order.currency), "status": .string(order.status), "create_time": .string(ExternalTime.text(order.createTime, zone: zone)),
            "created": .bool(existing == nil),
        ]
        return (order, [DomainEvent(type: .orderLinked, data: data)])
    }
}
