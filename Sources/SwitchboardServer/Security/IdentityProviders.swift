import AsyncHTTPClient
import Foundation
import JWTKit
import Logging
import NIOCore
import SwitchboardCore
import SwitchboardPluginHost

/// The verifying keys of the tenants' token issuers: the HS256 secret, or the issuer's JWKS fetched
/// over HTTP (refetched after `jwksLifetime`, or early when a token names a `kid` the cached set lacks,
/// at most once per `refetchInterval`).
/// - Important: An actor; verification of tokens of one issuer shares its cached keys.
actor IdentityProviders {
    struct Entry {
        var issuer: TokenIssuer
        var keys: JWTKeyCollection
        var kids: Set<String>
        var loadedAt: Double
        var fetchedAt: Double
    }

    private let store: any TokenIssuerStore
    private let secrets: SecretBox
    private let httpClient: HTTPClient
    private let policy: OutboundAddressPolicy
    private let logger: Logger
    private var entries: [String: Entry] = [:]
    private let registrationLifetime: Double = 30
    private let jwksLifetime: Double
    private let refetchInterval: Double

    /// - Parameters:
    ///   - jwksLifetime: seconds a fetched key set is used before it is fetched again.
    ///   - refetchInterval: the least seconds between fetches caused by an unknown `kid`.
    init(
        store: any TokenIssuerStore,
        secrets: SecretBox,
        httpClient: HTTPClient,
        policy: OutboundAddressPolicy,
        jwksLifetime: Double,
        refetchInterval: Double,
        logger: Logger
    ) {
        self.store = store
        self.secrets = secrets
        self.httpClient = httpClient
        self.policy = policy
        self.jwksLifetime = jwksLifetime
        self.refetchInterval = refetchInterval
        self.logger = logger
    }

    /// The registered issuer with this `iss` and keys able to verify a token with `kid`, or nil when no
    /// tenant registered it.
    /// - Throws: `AuthenticationFailure` (`issuer_unavailable`) when its JWKS cannot be fetched.
    func keys(for iss: String, kid: String?) async throws -> (issuer: TokenIssuer, keys: JWTKeyCollection)? {
        let now = MonotonicClock.seconds()
        var entry = entries[iss]
        if entry == nil || now - entry!.loadedAt > registrationLifetime {
            guard let found = try store.tokenIssuer(issuer: iss) else {
                entries[iss] = nil
                return nil
            }
            entry = try await load(found.issuer, sealedSecret: found.sealedSecret, now: now)
        }
        guard var current = entry else { return nil }
        let kidIsNew = kid.map { !current.kids.contains($0) } ?? false
        if current.issuer.kind == .jwks, now - current.fetchedAt > jwksLifetime || (kidIsNew && now - current.fetchedAt > refetchInterval) {
            current = try await load(current.issuer, sealedSecret: nil, now: now)
        }
        entries[iss] = current
        return (current.issuer, current.keys)
    }

    /// Forgets every cached issuer, after a registration changed.
    func invalidate() {
        entries.removeAll()
    }

    private func load(_ issuer: TokenIssuer, sealedSecret: String?, now: Double) async throws -> Entry {
        let keys = JWTKeyCollection()
        var kids: Set<String> = []
        switch issuer.kind {
        case .hs256:
            guard let sealedSecret else { preconditionFailure("an hs256 issuer is stored with its secret") }
            let secret = try secrets.open(text: sealedSecret, scope: Self.secretScope(issuer.id))
            await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        default:
            let json = try await fetchJWKS(issuer)
            do {
                try await keys.add(jwksJSON: json)
                kids = Set((try? JSONDecoder().decode(JWKS.self, from: Data(json.utf8)))?.keys.compactMap { $0.keyIdentifier?.string } ?? [])
            } catch {
                throw AuthenticationFailure(reason: "issuer_unavailable", detail: "The token issuer's key set is not a valid JWKS.", tenantID: issuer.tenantID)
            }
        }
        return Entry(issuer: issuer, keys: keys, kids: kids, loadedAt: now, fetchedAt: now)
    }

    private func fetchJWKS(_ issuer: TokenIssuer) async throws -> String {
        let failure = AuthenticationFailure(reason: "issuer_unavailable", detail: "The token issuer's keys cannot be fetched now.", tenantID: issuer.tenantID)
        guard let url = issuer.jwksURL, let host = URL(string: url)?.host, await policy.check(host: host) == .permitted else {
            logger.warning("JWKS URL refused by the outbound address policy", metadata: ["sb.tenant": .string(issuer.tenantID)])
            throw failure
        }
        do {
            let response = try await httpClient.execute(HTTPClientRequest(url: url), timeout: .seconds(5))
            guard response.status == .ok else { throw failure }
            return String(buffer: try await response.body.collect(upTo: 1 << 20))
        } catch {
            logger.warning("JWKS fetch failed", metadata: ["sb.tenant": .string(issuer.tenantID), "sb.error": "\(error)"])
            throw failure
        }
    }

    /// The `SecretBox` scope of an HS256 issuer's secret.
    static func secretScope(_ id: String) -> String { "token-issuer:\(id)" }
}
