import AsyncHTTPClient
import Foundation
import NIOCore
import Synchronization
import SwitchboardCore

/// Every outgoing HTTP request of the server (webhooks, plugin HTTP, JWKS and introspection) goes
/// through here, behind an `OutboundAddressPolicy`: the host name is resolved once, every address is
/// checked, and the connection is made to the address that was checked. A name that resolves to a
/// public address for the check and to an internal one for the connection (DNS rebinding) cannot
/// reach the internal one.
///
/// Pinning uses AsyncHTTPClient's public `dnsOverride`, which also keeps TLS verifying the
/// certificate against the host name (SNI stays the name). `dnsOverride` is a setting of a whole
/// client, so there is one client per (host, address), created on first use and shut down after
/// `idleLifetime` without a request. A literal address needs no pinning and uses the shared client.
public final class OutboundHTTPClient: Sendable {
    /// Why a request was not sent.
    public enum Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        case invalidURL
        case unresolved
        case refused

        public var description: String {
            switch self {
            case .invalidURL: "the URL must be absolute http or https with a host"
            case .unresolved: "the host name does not resolve"
            case .refused: "the host resolves to a private or reserved address"
            }
        }
    }

    /// Resolves a host name to its IPv4 (4-byte) and IPv6 (16-byte) addresses.
    public typealias Resolver = @Sendable (String) async -> [[UInt8]]

    private struct Pin: Hashable {
        var host: String
        var address: String
    }

    private struct Pinned {
        var client: HTTPClient
        var inFlight = 0
        var lastUsed: ContinuousClock.Instant
    }

    /// The most pinned clients kept while idle.
    static let maxPinned = 256

    /// The client for requests that need no pinning, shared with the rest of the server.
    public let shared: HTTPClient
    private let configuration: HTTPClient.Configuration
    private let resolver: Resolver
    private let idleLifetime: Duration
    private let pinned = Mutex<[Pin: Pinned]>([:])

    /// - Parameters:
    ///   - configuration: the settings of every client; redirects must be off, or a redirect could
    ///     lead past the check.
    ///   - resolver: name resolution; the system's by default.
    public init(configuration: HTTPClient.Configuration, resolver: @escaping Resolver = OutboundAddressPolicy.resolve, idleLifetime: Duration = .seconds(60)) {
        self.configuration = configuration
        self.shared = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.resolver = resolver
        self.idleLifetime = idleLifetime
    }

    /// Sends `request` if `policy` permits every address of its host, connected to a checked address,
    /// and hands the response to `read` while the connection is held.
    /// - Throws: `Refusal`, or what the client or `read` throws.
    public func execute<Result: Sendable>(
        _ request: HTTPClientRequest,
        policy: OutboundAddressPolicy,
        timeout: TimeAmount,
        read: (HTTPClientResponse) async throws -> Result
    ) async throws -> Result {
        guard let url = URL(string: request.url), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty
        else { throw Refusal.invalidURL }
        let address: [UInt8]
        switch await policy.check(host: host, resolver: resolver) {
        case .unresolved: throw Refusal.unresolved
        case .refused: throw Refusal.refused
        case .permitted(let checked): address = checked
        }
        if OutboundAddressPolicy.literal(host) != nil {
            return try await read(try await shared.execute(request, timeout: timeout))
        }
        let pin = Pin(host: host, address: IPAddressRange.format(address))
        let client = checkOut(pin)
        defer { checkIn(pin) }
        return try await read(try await client.execute(request, timeout: timeout))
    }

    /// Shuts every client down.
    public func shutdown() async throws {
        let clients = pinned.withLock { pinned in
            defer { pinned.removeAll() }
            return pinned.values.map(\.client)
        }
        for client in clients { try? await client.shutdown() }
        try await shared.shutdown()
    }

    /// The client pinned to `pin`, counted as in use; idle clients past their lifetime are shut down.
    private func checkOut(_ pin: Pin) -> HTTPClient {
        let now = ContinuousClock.now
        let (client, expired) = pinned.withLock { pinned -> (HTTPClient, [HTTPClient]) in
            var expired: [HTTPClient] = []
            for (key, entry) in pinned where key != pin && entry.inFlight == 0 && now - entry.lastUsed > idleLifetime {
                expired.append(entry.client)
                pinned[key] = nil
            }
            // Hosts are chosen by tenants: past the cap the least recently used idle clients go at once
            // (clients with a request in flight stay, so the count stays bounded by the requests running).
            if pinned[pin] == nil, pinned.count >= Self.maxPinned {
                let idle = pinned.filter { $0.value.inFlight == 0 }.sorted { $0.value.lastUsed < $1.value.lastUsed }
                for (key, entry) in idle.prefix(pinned.count - Self.maxPinned + 1) {
                    expired.append(entry.client)
                    pinned[key] = nil
                }
            }
            if pinned[pin] == nil {
                var configuration = configuration
                configuration.dnsOverride = [pin.host: pin.address]
                pinned[pin] = Pinned(client: HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration), lastUsed: now)
            }
            pinned[pin]!.inFlight += 1
            pinned[pin]!.lastUsed = now
            return (pinned[pin]!.client, expired)
        }
        // Idle clients hold no request; their shutdown only closes pooled connections.
        for client in expired { _ = client.shutdown() }
        return client
    }

    private func checkIn(_ pin: Pin) {
        pinned.withLock { pinned in
            pinned[pin]?.inFlight -= 1
            pinned[pin]?.lastUsed = .now
        }
    }
}
