import AsyncHTTPClient
import Crypto
import Foundation
import JWTKit
import Logging
import NIOCore
import SwitchboardCore
import SwitchboardPluginHost

/// The verifying keys of the tenants' token issuers: the HS256 secret, or the issuer's JWKS fetched
/// over HTTP (refetched after `jwksLifetime`, or early when a token names a `kid` the cached set lacks,
/// at most once per `refetchInterval`); and the introspection of tokens of `introspection` issuers,
/// whose answers are kept 30 s at most (never past the token's `exp`).
/// - Important: An actor; verification of tokens of one issuer shares its cached keys.
actor IdentityProviders {
    struct Entry {
        var issuer: TokenIssuer
        var keys: JWTKeyCollection
        var kids: Set<String>
        /// The introspection client's secret.
        var clientSecret: String?
        var loadedAt: Double
        var fetchedAt: Double
    }

    /// What an introspection endpoint said of an active token.
    struct Introspection: Sendable {
        var subject: String
        var scope: String?
        var role: String?
        var expires: Date?
    }

    private let store: any TokenIssuerStore
    private let secrets: SecretBox
    private let httpClient: OutboundHTTPClient
    private let policy: OutboundAddressPolicy
    private let logger: Logger
    /// Loaded issuers by their registration id.
    private var entries: [String: Entry] = [:]
    /// The registrations of each `iss`, across tenants, and when they were read.
    private var registrations: [String: (issuers: [(issuer: TokenIssuer, sealedSecret: String?)], readAt: Double)] = [:]
    private var introspections: [SHA256Digest: (answer: Introspection, until: Double)] = [:]
    private let registrationLifetime: Double = 30
    private let jwksLifetime: Double
    private let refetchInterval: Double
    /// Drops the registrations read when settings change on any server (`Cluster.settingsChanged`).
    private let invalidatedBy: CommitSignal?
    private var seenGeneration: UInt64 = 0

    /// - Parameters:
    ///   - jwksLifetime: seconds a fetched key set is used before it is fetched again.
    ///   - refetchInterval: the least seconds between fetches caused by an unknown `kid`.
    init(
        store: any TokenIssuerStore,
        secrets: SecretBox,
        httpClient: OutboundHTTPClient,
        policy: OutboundAddressPolicy,
        jwksLifetime: Double,
        refetchInterval: Double,
        invalidatedBy: CommitSignal? = nil,
        logger: Logger
    ) {
        self.invalidatedBy = invalidatedBy
        self.store = store
        self.secrets = secrets
        self.httpClient = httpClient
        self.policy = policy
        self.jwksLifetime = jwksLifetime
        self.refetchInterval = refetchInterval
        self.logger = logger
    }

    /// The registration a token of `iss` is for, and keys able to verify a token with `kid`; nil when
    /// no registration takes it.
    ///
    /// Several tenants may trust the same provider, each with an audience of its own (an issuer is
    /// unique with its audience): a token is bound to the one registration whose audience it names, or
    /// to the only registration of its issuer (whose audience is then checked like any claim).
    /// - Throws: `AuthenticationFailure` (`issuer_unavailable`) when its JWKS cannot be fetched.
    func keys(for iss: String, audiences: [String], kid: String?) async throws -> (issuer: TokenIssuer, keys: JWTKeyCollection)? {
        let now = MonotonicClock.seconds()
        if let generation = invalidatedBy?.generation, generation != seenGeneration {
            // An issuer registered or deleted on some server: read the registrations again.
            registrations.removeAll()
            seenGeneration = generation
        }
        if registrations[iss].map({ now - $0.readAt > registrationLifetime }) ?? true {
            // Issuers named by unauthenticated tokens are cached, misses too: bounded.
            if registrations.count >= 10_000 { registrations.removeAll() }
            registrations[iss] = (try await store.tokenIssuers(issuer: iss), now)
        }
        var candidates = registrations[iss]?.issuers ?? []
        if candidates.count > 1 { candidates.removeAll { !audiences.contains($0.issuer.audience) } }
        guard candidates.count == 1, let found = candidates.first else { return nil }
        var current: Entry
        if let cached = entries[found.issuer.id], now - cached.loadedAt <= registrationLifetime {
            current = cached
        } else {
            current = try await load(found.issuer, sealedSecret: found.sealedSecret, now: now)
        }
        let kidIsNew = kid.map { !current.kids.contains($0) } ?? false
        if current.issuer.kind == .jwks, now - current.fetchedAt > jwksLifetime || (kidIsNew && now - current.fetchedAt > refetchInterval) {
            current = try await load(current.issuer, sealedSecret: nil, now: now)
        }
        entries[found.issuer.id] = current
        return (current.issuer, current.keys)
    }

    /// Forgets every cached issuer and answer, after a registration changed.
    func invalidate() {
        entries.removeAll()
        registrations.removeAll()
        introspections.removeAll()
    }

    private func load(_ issuer: TokenIssuer, sealedSecret: String?, now: Double) async throws -> Entry {
        let keys = JWTKeyCollection()
        var kids: Set<String> = []
        let secret = try sealedSecret.map { try secrets.open(text: $0, scope: Self.secretScope(issuer.id)) }
        switch issuer.kind {
        case .hs256:
            guard let secret else { preconditionFailure("an hs256 issuer is stored with its secret") }
            await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        case .introspection:
            break
        default:
            let json = try await fetchJWKS(issuer)
            do {
                let jwks = try SwitchboardJSON.decode(JWKS.self, from: json)
                try await keys.add(jwks: jwks)
                kids = Set(jwks.keys.compactMap { $0.keyIdentifier?.string })
            } catch {
                throw AuthenticationFailure(reason: "issuer_unavailable", detail: "The token issuer's key set is not a valid JWKS.", tenantID: issuer.tenantID)
            }
        }
        return Entry(issuer: issuer, keys: keys, kids: kids, clientSecret: secret, loadedAt: now, fetchedAt: now)
    }

    /// Asks an `introspection` issuer about `token` (RFC 7662), as its client.
    /// - Throws: `AuthenticationFailure`: `revoked` for an inactive token, `wrong_audience`,
    ///   `issuer_unavailable` when the endpoint cannot answer.
    func introspect(_ token: String, issuer: TokenIssuer) async throws -> Introspection {
        let now = MonotonicClock.seconds()
        let digest = SHA256.hash(data: Array(token.utf8))
        if let cached = introspections[digest], cached.until > now { return cached.answer }
        let unavailable = AuthenticationFailure(reason: "issuer_unavailable", detail: "The token issuer cannot check tokens now.", tenantID: issuer.tenantID)
        guard let url = issuer.url, let clientID = issuer.clientID, let secret = entries[issuer.id]?.clientSecret else { throw unavailable }
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Authorization", value: "Basic " + Data("\(Self.formEncode(clientID)):\(Self.formEncode(secret))".utf8).base64EncodedString())
        request.body = .bytes(ByteBuffer(string: "token=\(Self.formEncode(token))&token_type_hint=access_token"))
        let answer: JSONValue
        do {
            answer = try await httpClient.execute(request, policy: policy, timeout: .seconds(5)) { response in
                guard response.status == .ok else { throw unavailable }
                return try JSONValue(parsing: try await response.body.collect(upTo: 1 << 20).readableBytesView)
            }
        } catch {
            logger.warning("Token introspection failed", metadata: ["sb.tenant": .string(issuer.tenantID), "sb.error": "\(error)"])
            throw unavailable
        }
        guard case .object(let fields) = answer, fields["active"] == .bool(true), case .string(let subject)? = fields["sub"] else {
            throw AuthenticationFailure(reason: "revoked", detail: "The token issuer says this token is not active.", tenantID: issuer.tenantID)
        }
        let audiences: [String] =
            switch fields["aud"] {
            case .string(let audience)?: [audience]
            case .array(let values)?: values.compactMap { if case .string(let value) = $0 { value } else { nil } }
            default: []
            }
        guard audiences.isEmpty || audiences.contains(issuer.audience) else {
            throw AuthenticationFailure(reason: "wrong_audience", detail: "The token's audience is not '\(issuer.audience)'.", tenantID: issuer.tenantID, subject: subject)
        }
        let expires: Date? = fields["exp"]?.numberValue.map { Date(timeIntervalSince1970: $0) }
        let scope: String? = if case .string(let scope)? = fields["scope"] { scope } else { nil }
        let role: String? = if case .string(let role)? = fields["role"] { role } else { nil }
        let result = Introspection(subject: subject, scope: scope, role: role, expires: expires)
        if introspections.count > 10_000 { introspections.removeAll() }
        introspections[digest] = (result, min(now + 30, now + (expires?.timeIntervalSinceNow ?? 30)))
        return result
    }

    private static func formEncode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
    }

    private func fetchJWKS(_ issuer: TokenIssuer) async throws -> String {
        let failure = AuthenticationFailure(reason: "issuer_unavailable", detail: "The token issuer's keys cannot be fetched now.", tenantID: issuer.tenantID)
        guard let url = issuer.url else { throw failure }
        do {
            return try await httpClient.execute(HTTPClientRequest(url: url), policy: policy, timeout: .seconds(5)) { response in
                guard response.status == .ok else { throw failure }
                return String(buffer: try await response.body.collect(upTo: 1 << 20))
            }
        } catch {
            logger.warning("JWKS fetch failed", metadata: ["sb.tenant": .string(issuer.tenantID), "sb.error": "\(error)"])
            throw failure
        }
    }

    /// The `SecretBox` scope of an issuer's secret (HS256 key or introspection client secret).
    static func secretScope(_ id: String) -> String { "token-issuer:\(id)" }
}
