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

    private static func isPublicIPv4(_ a: [UInt8]) -> Bool {
        switch (a[0], a[1]) {
        case (0, _), (10, _), (127, _): return false  // this network, private, loopback
        case (100, 64...127): return false  // shared address space (carrier-grade NAT)
        case (169, 254): return false  // link-local, cloud metadata endpoints
        case (172, 16...31), (192, 168): return false  // private
        case (192, 0) where a[2] == 0: return false  // IETF protocol assignments
        case (198, 18...19): return false  // benchmarking
        case (224...255, _): return false  // multicast, reserved, broadcast
        default: return true
        }
    }

    private static func isPublicIPv6(_ a: [UInt8]) -> Bool {
        if a[0..<10].allSatisfy({ $0 == 0 }) && a[10] == 0xFF && a[11] == 0xFF { return isPublicIPv4(Array(a[12...])) }  // IPv4-mapped
        if a[0] == 0x00, a[1] == 0x64, a[2] == 0xFF, a[3] == 0x9B { return isPublicIPv4(Array(a[12...])) }  // NAT64
        if a[0..<15].allSatisfy({ $0 == 0 }) { return false }  // unspecified, loopback
        if a[0] & 0xFE == 0xFC { return false }  // unique local
        if a[0] == 0xFE, a[1] & 0xC0 == 0x80 { return false }  // link-local
        if a[0] == 0xFF { return false }  // multicast
        if a[0] == 0x20, a[1] == 0x01, a[2] == 0x0D, a[3] == 0xB8 { return false }  // documentation
        return true
    }
}
