import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import SwitchboardCore

/// Outgoing HTTP for plugins through the server's `OutboundHTTPClient`, behind the SSRF guard: the
/// connection goes to an address that was checked.
public final class PluginHTTPClient: Sendable {
    /// The most response bytes handed to a plugin.
    public static let maxResponseBytes = 1 << 20

    let client: OutboundHTTPClient
    let policy: OutboundAddressPolicy

    /// Creates a client that sends through `client`, refusing addresses `policy` does not permit.
    public init(client: OutboundHTTPClient, policy: OutboundAddressPolicy) {
        self.client = client
        self.policy = policy
    }

    /// A response, or the status saying why there is none.
    struct Outcome: Sendable {
        var status: PluginStatus
        var code: Int = 0
        var headers: [String: String] = [:]
        var body: [UInt8] = []
    }

    /// Performs a request and never throws: every failure maps to an ABI status.
    func perform(method: String, url: String, headers: [String: String], body: [UInt8], timeout: Duration) async -> Outcome {
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method.uppercased())
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if !body.isEmpty { request.body = .bytes(ByteBuffer(bytes: body)) }
        do {
            return try await client.execute(request, policy: policy, timeout: .milliseconds(Int64(timeout / .milliseconds(1)))) { response in
                var collected = ByteBuffer()
                for try await var chunk in response.body {
                    let room = Self.maxResponseBytes - collected.readableBytes
                    if room <= 0 { break }
                    if chunk.readableBytes > room { chunk = chunk.getSlice(at: chunk.readerIndex, length: room)! }
                    collected.writeBuffer(&chunk)
                }
                var responseHeaders: [String: String] = [:]
                for header in response.headers {
                    let name = header.name.lowercased()
                    responseHeaders[name] = responseHeaders[name].map { $0 + ", " + header.value } ?? header.value
                }
                return Outcome(status: .ok, code: Int(response.status.code), headers: responseHeaders, body: Array(buffer: collected))
            }
        } catch let refusal as OutboundHTTPClient.Refusal {
            return Outcome(status: refusal == .refused ? .denied : refusal == .invalidURL ? .invalid : .unavailable, body: Array(refusal.description.utf8))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            return Outcome(status: .timeout, body: Array("the request timed out".utf8))
        } catch {
            return Outcome(status: .unavailable, body: Array("the request failed: \(error)".utf8))
        }
    }
}

extension OutboundAddressPolicy {
    /// What resolving a host name found.
    public enum Check: Sendable, Equatable {
        /// Every address is permitted; the first is the one to connect to.
        case permitted(address: [UInt8])
        case refused
        case unresolved
    }

    /// Resolves `host` (a name or a literal address) with `resolver` and checks every address: all must
    /// be permitted. Webhooks check a URL with it when it is saved, and `OutboundHTTPClient` before
    /// each connection.
    public func check(host: String, resolver: OutboundHTTPClient.Resolver = Self.resolve) async -> Check {
        let addresses: [[UInt8]]
        if let literal = Self.literal(host) { addresses = [literal] } else { addresses = await resolver(host) }
        guard let first = addresses.first else { return .unresolved }
        return addresses.allSatisfy(permits) ? .permitted(address: first) : .refused
    }

    /// The bytes of `host` when it is a literal IPv4 or IPv6 address (`[…]` or bare), read without a lookup.
    static func literal(_ host: String) -> [UInt8]? {
        let name = bare(host)
        var v4 = in_addr()
        if inet_pton(AF_INET, name, &v4) == 1 { return withUnsafeBytes(of: v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, name, &v6) == 1 { return withUnsafeBytes(of: v6) { Array($0) } }
        return nil
    }

    /// `host` without the brackets of an IPv6 literal in a URL (`[::1]`).
    private static func bare(_ host: String) -> String {
        host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
    }

    /// Name resolution's own threads: `getaddrinfo` blocks, for seconds when a name server does not
    /// answer, so resolutions wait here, at most 8 at once, instead of taking threads other work needs
    /// (a plugin can ask for any number of requests to slow names).
    private static let resolvers: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 8)
        pool.start()
        return pool
    }()

    /// Every IPv4 and IPv6 address of `host` (a literal address resolves to itself).
    @Sendable public static func resolve(_ host: String) async -> [[UInt8]] {
        (try? await resolvers.runIfActive { addresses(of: host) }) ?? []
    }

    /// What `getaddrinfo` answers for `host`, on the calling thread.
    private static func addresses(of host: String) -> [[UInt8]] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(bare(host), nil, &hints, &list) == 0 else { return [] }
        defer { freeaddrinfo(list) }
        var addresses: [[UInt8]] = []
        var entry = list
        while let current = entry?.pointee {
            if current.ai_family == AF_INET, let address = current.ai_addr {
                address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                    addresses.append(withUnsafeBytes(of: pointer.pointee.sin_addr) { Array($0) })
                }
            } else if current.ai_family == AF_INET6, let address = current.ai_addr {
                address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                    addresses.append(withUnsafeBytes(of: pointer.pointee.sin6_addr) { Array($0) })
                }
            }
            entry = current.ai_next
        }
        return addresses
    }
}
