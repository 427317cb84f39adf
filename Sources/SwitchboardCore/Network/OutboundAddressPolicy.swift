/// Which network addresses outgoing requests (webhooks, plugin HTTP) may reach: the SSRF guard.
///
/// By default loopback, private, link-local, shared, multicast and reserved ranges are refused, so a
/// tenant's webhook URL or plugin config cannot reach the operator's internal network.
public struct OutboundAddressPolicy: Sendable, Equatable {
    /// Allows every address; for single-host deployments and tests that run receivers on loopback.
    public var allowsPrivateNetworks: Bool

    /// Creates a policy.
    public init(allowsPrivateNetworks: Bool = false) {
        self.allowsPrivateNetworks = allowsPrivateNetworks
    }

    /// Whether an IPv4 (4 bytes) or IPv6 (16 bytes) address may be reached.
    public func permits(_ address: [UInt8]) -> Bool {
        allowsPrivateNetworks || Self.isPublic(address)
    }

    /// Whether an address is globally routable unicast.
    public static func isPublic(_ address: [UInt8]) -> Bool {
        switch address.count {
        case 4: return isPublicIPv4(address)
        case 16: return isPublicIPv6(address)
        default: return false
        }
    }

    /// IPv4 per the IANA IPv4 Special-Purpose Address Registry (RFC 6890 and its updates).
    private static func isPublicIPv4(_ a: [UInt8]) -> Bool {
        switch (a[0], a[1], a[2]) {
        case (0, _, _), (10, _, _), (127, _, _): return false  // this network, private, loopback
        case (100, 64...127, _): return false  // shared address space (carrier-grade NAT)
        case (169, 254, _): return false  // link-local, cloud metadata endpoints
        case (172, 16...31, _), (192, 168, _): return false  // private
        case (192, 0, 0), (192, 0, 2): return false  // IETF protocol assignments, TEST-NET-1
        case (192, 88, 99): return false  // 6to4 relay anycast
        case (198, 18...19, _): return false  // benchmarking
        case (198, 51, 100), (203, 0, 113): return false  // TEST-NET-2, TEST-NET-3
        case (224...255, _, _): return false  // multicast, reserved, broadcast
        default: return true
        }
    }

    /// IPv6: only global unicast (2000::/3) outside the IANA IPv6 Special-Purpose Address Registry; an
    /// address that embeds an IPv4 address (mapped, NAT64, 6to4) is judged by that address.
    private static func isPublicIPv6(_ a: [UInt8]) -> Bool {
        if a[0..<10].allSatisfy({ $0 == 0 }) && a[10] == 0xFF && a[11] == 0xFF { return isPublicIPv4(Array(a[12...])) }  // IPv4-mapped
        if a[0..<12] == [0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0] { return isPublicIPv4(Array(a[12...])) }  // NAT64 well-known prefix
        if a[0] == 0x20, a[1] == 0x02 { return isPublicIPv4(Array(a[2..<6])) }  // 6to4
        // Everything else outside 2000::/3 is reserved: unspecified, loopback, IPv4-compatible
        // (::a.b.c.d), local-use NAT64, discard-only, unique local, link- and site-local, multicast.
        guard a[0] & 0xE0 == 0x20 else { return false }
        if a[0] == 0x20, a[1] == 0x01, a[2] & 0xFE == 0x00 { return false }  // 2001::/23 IETF protocol assignments (Teredo, ORCHID, benchmarking)
        if a[0] == 0x20, a[1] == 0x01, a[2] == 0x0D, a[3] == 0xB8 { return false }  // documentation
        if a[0] == 0x3F, a[1] == 0xFF, a[2] & 0xF0 == 0x00 { return false }  // 3fff::/20 documentation
        return true
    }
}
