#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 network in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`); a bare address is a
/// network of one.
public struct IPAddressRange: Hashable, Sendable, CustomStringConvertible {
    /// The network's address bytes (4 or 16), with the host bits cleared.
    public let network: [UInt8]
    /// How many leading bits must match.
    public let prefixLength: Int

    /// Parses CIDR notation.
    /// - Throws: `invalid_field` naming `field` for anything else.
    public init(parsing text: String, field: String = "allowed_ips") throws {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = Self.parseAddress(String(parts[0])) else {
            throw SwitchboardError.invalidField(field, "'\(text)' is not an IPv4 or IPv6 address or CIDR range.")
        }
        let bits = address.count * 8
        let length = parts.count == 2 ? Int(parts[1]) : bits
        guard let length, (0...bits).contains(length) else {
            throw SwitchboardError.invalidField(field, "'\(text)' has a prefix length outside 0...\(bits).")
        }
        self.network = Self.masked(address, prefixLength: length)
        self.prefixLength = length
    }

    /// Whether `address` (4 or 16 bytes) lies in the range. An IPv4-mapped IPv6 address matches IPv4 ranges.
    public func contains(_ address: [UInt8]) -> Bool {
        let address = Self.unmapped(address)
        guard address.count == network.count else { return false }
        return Self.masked(address, prefixLength: prefixLength) == network
    }

    /// Whether every address of `other` lies in this range.
    public func contains(_ other: IPAddressRange) -> Bool {
        other.prefixLength >= prefixLength && contains(other.network)
    }

    /// Whether the textual address lies in the range; false for text that is not an address.
    public func contains(_ address: String) -> Bool {
        Self.parseAddress(address).map(contains) ?? false
    }

    public var description: String {
        Self.format(network) + "/\(prefixLength)"
    }

    /// The text of an address of 4 or 16 bytes (`192.0.2.1`, `2001:db8::1`).
    public static func format(_ address: [UInt8]) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = address.count == 4 ? AF_INET : AF_INET6
        _ = address.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The bytes of a textual IPv4 or IPv6 address (brackets and a zone index allowed), or nil.
    public static func parseAddress(_ text: String) -> [UInt8]? {
        var text = Substring(text)
        if text.hasPrefix("["), text.hasSuffix("]") { text = text.dropFirst().dropLast() }
        if let zone = text.firstIndex(of: "%") { text = text[..<zone] }
        var v4 = in_addr()
        if inet_pton(AF_INET, String(text), &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, String(text), &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }

    private static func unmapped(_ address: [UInt8]) -> [UInt8] {
        guard address.count == 16, address[0..<10].allSatisfy({ $0 == 0 }), address[10] == 0xFF, address[11] == 0xFF else { return address }
        return Array(address[12...])
    }

    private static func masked(_ address: [UInt8], prefixLength: Int) -> [UInt8] {
        address.enumerated().map { index, byte in
            let kept = min(max(prefixLength - index * 8, 0), 8)
            return kept == 8 ? byte : byte & ~(UInt8(0xFF) >> kept)
        }
    }
}

extension Array where Element == IPAddressRange {
    /// Whether the list is empty (no restriction) or some range contains `address`.
    public func permits(_ address: [UInt8]?) -> Bool {
        guard !isEmpty else { return true }
        guard let address else { return false }
        return contains { $0.contains(address) }
    }
}
