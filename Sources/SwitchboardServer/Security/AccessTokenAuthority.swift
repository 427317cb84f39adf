import Crypto
import Foundation
import JWTKit
import Logging
import SwitchboardCore

/// The server as an OAuth 2.0 authorization server: signs short-lived JWT access tokens (ES256, the
/// RFC 9068 profile), publishes their public keys as a JWKS, and rotates the signing key.
///
/// A key signs for `rotation`, then stays published for one more token lifetime so tokens it signed
/// still verify; keys are stored sealed, so tokens survive a restart. The servers of a cluster share
/// the stored keys: a token whose key this server does not know makes it load the stored keys again
/// (at most once a second), and a server whose key is due looks for one another server made first.
/// - Important: An actor: issuing, rotating and verifying are serialised.
actor AccessTokenAuthority {
    /// What the authority signs with and for.
    struct Settings: Sendable {
        var issuer: String
        var audience: String
        var lifetime: Duration
        var rotation: Duration
    }

    /// The claims of an access token.
    struct Claims: JWTPayload {
        var iss: IssuerClaim
        var sub: SubjectClaim
        var aud: AudienceClaim
        var exp: ExpirationClaim
        var iat: IssuedAtClaim
        var jti: IDClaim
        /// The OAuth client the token was issued to; nil for a sign-in token.
        var clientID: String?
        var tenantID: String
        var scope: String
        /// A sign-in token's role (`POST /api/v1/auth/token`); nil for a client's token.
        var role: String?

        enum CodingKeys: String, CodingKey {
            case iss, sub, aud, exp, iat, jti, scope, role
            case clientID = "client_id"
            case tenantID = "tenant_id"
        }

        /// Times, issuer and audience are checked by `AccessTokenVerifier` with a clock-skew allowance.
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    let settings: Settings
    private let store: any OAuthStore
    private let secrets: SecretBox
    private var keys = JWTKeyCollection()
    private var published: [(id: String, key: ES256PrivateKey, createdAt: Date)] = []
    /// When the stored keys were last loaded, so that tokens of unknown keys cost one read a second at most.
    private var loadedAt = ContinuousClock.now
    static let reloadInterval = Duration.seconds(1)

    init(settings: Settings, store: any OAuthStore, secrets: SecretBox) {
        self.settings = settings
        self.store = store
        self.secrets = secrets
    }

    /// Loads the stored keys, dropping expired ones and making a new one when the newest is due.
    func start() async throws {
        try await load()
        try await rotateIfDue(force: true)
    }

    /// Replaces the published keys with the stored ones, in the order they were made.
    private func load() async throws {
        var loaded: [(id: String, key: ES256PrivateKey, createdAt: Date)] = []
        for record in try await store.signingKeys() {
            let raw = try secrets.open(text: record.sealedPrivateKey, scope: Self.secretScope(record.id))
            guard let bytes = Data(base64Encoded: raw) else { throw SwitchboardError.invalidField("signing_key", "A stored signing key is not base64.") }
            loaded.append((record.id, try ES256PrivateKey(backing: P256.Signing.PrivateKey(rawRepresentation: bytes)), record.createdAt))
        }
        published = loaded.sorted { $0.createdAt < $1.createdAt }
        loadedAt = .now
    }

    /// A signed access token for `client` holding `scopes`, and its lifetime in seconds.
    func issue(client: OAuthClient, scopes: Set<Scope>) async throws -> (token: String, expiresIn: Int) {
        try await issue(subject: client.id, tenantID: client.tenantID, clientID: client.id, role: nil, scopes: scopes)
    }

    /// A signed sign-in token for a principal that proved itself with directory credentials.
    func issue(signedIn principal: Principal) async throws -> (token: String, expiresIn: Int) {
        try await issue(subject: principal.subject, tenantID: principal.tenantID, clientID: nil, role: principal.role, scopes: principal.scopes)
    }

    private func issue(subject: String, tenantID: String, clientID: String?, role: Role?, scopes: Set<Scope>) async throws -> (token: String, expiresIn: Int) {
        try await rotateIfDue()
        guard let current = published.last else { preconditionFailure("the authority has no key after rotation") }
        let now = Date()
        let claims = Claims(
            iss: IssuerClaim(value: settings.issuer),
            sub: SubjectClaim(value: subject),
            aud: AudienceClaim(value: [settings.audience]),
            exp: ExpirationClaim(value: now.addingTimeInterval(settings.lifetime / .seconds(1))),
            iat: IssuedAtClaim(value: now),
            jti: IDClaim(value: TimeOrderedIDGenerator.shared.make()),
            clientID: clientID,
            tenantID: tenantID,
            scope: scopes.sorted().map(\.name).joined(separator: " "),
            role: role?.name
        )
        var header = JWTHeader()
        header.typ = "at+jwt"
        header.alg = "ES256"
        let token = try await keys.sign(claims, kid: JWKIdentifier(string: current.id), header: header)
        return (token, Int(settings.lifetime / .seconds(1)))
    }

    /// The claims of a token this authority signed, once its signature checks out.
    /// - Throws: when no published key has the token's `kid` or the signature is wrong.
    func verifySignature(_ token: String) async throws -> Claims {
        do {
            return try await keys.verify(token, as: Claims.self)
        } catch {
            // Perhaps signed by a key another server of the cluster made since this one last looked.
            guard ContinuousClock.now - loadedAt >= Self.reloadInterval else { throw error }
            let known = Set(published.map(\.id))
            try await load()
            guard Set(published.map(\.id)) != known else { throw error }
            try await rotateIfDue(force: true)
            return try await keys.verify(token, as: Claims.self)
        }
    }

    /// The public keys as a JSON Web Key Set (RFC 7517).
    func jwks() -> JSONValue {
        .object([
            "keys": .array(
                published.map { entry in
                    let parameters = entry.key.publicKey.parameters
                    return .object([
                        "kty": .string("EC"), "crv": .string("P-256"), "use": .string("sig"), "alg": .string("ES256"), "kid": .string(entry.id),
                        "x": .string(parameters?.x ?? ""), "y": .string(parameters?.y ?? ""),
                    ])
                }
            )
        ])
    }

    /// Adds a key when the newest is due, drops keys nothing they signed can still use, and rebuilds
    /// the verifying collection when that changed anything (or `force`).
    private func rotateIfDue(force: Bool = false) async throws {
        let now = Date()
        let rotation = settings.rotation / .seconds(1)
        var changed = force
        let isDue = { self.published.last.map { now.timeIntervalSince($0.createdAt) >= rotation } ?? true }
        // Another server of the cluster may have made the next key already.
        if isDue(), !force {
            try await load()
            changed = true
        }
        if isDue() {
            changed = true
            let id = TimeOrderedIDGenerator.shared.make()
            let key = P256.Signing.PrivateKey()
            let sealed = try secrets.seal(text: key.rawRepresentation.base64EncodedString(), scope: Self.secretScope(id))
            try await store.addSigningKey(SigningKeyRecord(id: id, sealedPrivateKey: sealed, createdAt: now))
            published.append((id, try ES256PrivateKey(backing: key), now))
        }
        // A key that stopped signing more than one token lifetime ago verifies nothing any more.
        let oldest = now.addingTimeInterval(-(rotation + settings.lifetime / .seconds(1)))
        if published.contains(where: { $0.createdAt < oldest }) {
            changed = true
            published.removeAll { $0.createdAt < oldest }
            try await store.removeSigningKeys(createdBefore: oldest)
        }
        guard changed else { return }
        let collection = JWTKeyCollection()
        for entry in published { await collection.add(ecdsa: entry.key, kid: JWKIdentifier(string: entry.id)) }
        keys = collection
    }

    private static func secretScope(_ id: String) -> String { "signing-key:\(id)" }
}
