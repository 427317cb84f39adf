import Foundation

/// A business using Switchboard; every other record belongs to exactly one tenant.
public struct Tenant: Codable, Hashable, Sendable {
    public var id: String
    public var name: String
    public var createdAt: Date

    enum CodingKeys: String, CodingKey {
        case id, name
        case createdAt = "created_at"
    }

    /// Creates a tenant record.
    public init(id: String, name: String, createdAt: Date) {
        self.id = id
        self.name = name
        self.createdAt = createdAt
    }
}

/// A tenant's own settings for how its data is read and written.
public struct TenantSettings: Hashable, Sendable {
    /// The IANA name of the zone of wall-clock times external systems send and read
    /// (`"2023-10-26 12:00:00"`), as the tenant set it.
    public private(set) var timeZoneName = "UTC"
    /// The zone `timeZoneName` names.
    public private(set) var timeZone = TimeZone.utc

    /// Settings with UTC as the zone.
    public init() {}

    /// Settings with the zone `name`, or nil when no zone has that name.
    public init?(timeZoneName name: String) {
        guard let zone = Self.zone(named: name) else { return nil }
        timeZoneName = name
        timeZone = zone
    }

    /// Every zone name a tenant may set, sorted.
    public static let zoneNames = (TimeZone.knownTimeZoneIdentifiers + ["UTC"]).sorted()

    private static let zones = Dictionary(zoneNames.compactMap { name in TimeZone(identifier: name).map { (name, $0) } }) { first, _ in first }

    /// The zone named `identifier` (an IANA name such as `Asia/Shanghai`, or `UTC`), or nil.
    public static func zone(named identifier: String) -> TimeZone? {
        zones[identifier]
    }
}

extension TenantSettings: Encodable {
    enum CodingKeys: String, CodingKey {
        case timeZone = "time_zone"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(timeZoneName, forKey: .timeZone)
    }
}

extension TimeZone {
    /// Coordinated Universal Time.
    public static let utc = TimeZone(secondsFromGMT: 0) ?? .current
}
