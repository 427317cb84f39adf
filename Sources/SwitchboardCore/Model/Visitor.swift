import Foundation

/// A website or app visitor who talks to agents.
public struct Visitor: Codable, Hashable, Sendable, JSONRecord {
    public var id: String
    /// The tenant's own id for this person, unique per tenant when present.
    public var externalID: String?
    public var name: String?
    public var createdAt: Date

    enum CodingKeys: String, CodingKey {
        case id, name
        case externalID = "external_id"
        case createdAt = "created_at"
    }

    /// Creates a visitor record.
    public init(id: String, externalID: String?, name: String?, createdAt: Date) {
        self.id = id
        self.externalID = externalID
        self.name = name
        self.createdAt = createdAt
    }

    public func encode(to encoder: any Encoder) throws {
        try encodeFields(to: encoder)
    }

    func writeFields(to fields: inout some JSONFieldWriter<CodingKeys>) throws {
        try fields.write(id, for: .id)
        try fields.write(externalID, for: .externalID)
        try fields.write(name, for: .name)
        try fields.write(createdAt, for: .createdAt)
    }
}

/// The fields of a new visitor.
public struct NewVisitor: Hashable, Sendable {
    public var externalID: String?
    public var name: String?

    /// Creates the input.
    public init(externalID: String? = nil, name: String? = nil) {
        self.externalID = externalID
        self.name = name
    }
}
