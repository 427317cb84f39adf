import Foundation
import HTTPTypes
import NIOCore
import SwitchboardCore

/// Which address a request comes from: its peer, or, when the peer is a trusted proxy, the nearest
/// untrusted address of `X-Forwarded-For`.
enum ClientAddress {
    /// The client's address bytes (4 or 16), or nil when the peer is not an IP socket.
    static func resolve(peer: SocketAddress?, headers: HTTPFields, trustedProxies: [IPAddressRange]) -> [UInt8]? {
        guard let peer = peer.flatMap(bytes) else { return nil }
        guard !trustedProxies.isEmpty, trustedProxies.contains(where: { $0.contains(peer) }) else { return peer }
        // Each proxy appends the address it received from; read from the right, skipping our own proxies.
        let hops = headers[values: .xForwardedFor].flatMap { $0.split(separator: ",") }
        var client = peer
        for hop in hops.reversed() {
            guard let address = IPAddressRange.parseAddress(hop.trimmingCharacters(in: .whitespaces)) else { break }
            client = address
            if !trustedProxies.contains(where: { $0.contains(address) }) { break }
        }
        return client
    }

    /// The address bytes of an IP socket address (4 or 16), nil for a Unix socket.
    static func bytes(_ address: SocketAddress) -> [UInt8]? {
        switch address {
        case .v4(let v4): withUnsafeBytes(of: v4.address.sin_addr) { Array($0) }
        case .v6(let v6): withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
        case .unixDomainSocket: nil
        }
    }
}

extension HTTPField.Name {
    static let xForwardedFor = Self("X-Forwarded-For")!
}
