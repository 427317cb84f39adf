/// A tenant's own security settings, which apply to every credential of the tenant.
public struct TenantSecurity: Hashable, Sendable {
    /// Client networks the tenant's credentials may be used from; empty means anywhere.
    public var allowedIPs: [IPAddressRange]
    /// Requests per minute across all of the tenant's credentials, replacing the server's per-tenant default.
    public var rateLimit: Int?

    /// Creates settings; the default restricts nothing.
    public init(allowedIPs: [IPAddressRange] = [], rateLimit: Int? = nil) {
        self.allowedIPs = allowedIPs
        self.rateLimit = rateLimit
    }
}

extension TenantSecurity: Encodable {
    enum CodingKeys: String, CodingKey {
        case allowedIPs = "allowed_ips"
        case rateLimit = "rate_limit"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(allowedIPs.map(\.description), forKey: .allowedIPs)
        try container.encode(rateLimit, forKey: .rateLimit)
    }
}
