import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import RawStructuredFieldValues
import SwitchboardCore

/// Requests signed with HTTP Message Signatures (RFC 9421), `hmac-sha256` or `ed25519`, by a key of
/// an API key (`/api/v1/api-keys/{id}/signature-keys`); the request then acts as that API key.
///
/// The signature must cover `@method` and `@target-uri`, and `content-digest` (RFC 9530, checked
/// against the body) whenever the request has a body; it must carry `created` within ±`window` of
/// now and a `nonce` not seen before for its key.
struct MessageSignatureVerifier: CredentialVerifier {
    let keys: any SignatureKeyStore
    let directory: any TenantDirectory
    let secrets: SecretBox
    /// The scheme clients address this server with, for `@target-uri`.
    let scheme: String
    static let window: TimeInterval = 300

    func verify(_ request: inout Request, context: AppRequestContext) async throws -> VerifiedCredential? {
        guard let inputField = request.headers[.signatureInput] else { return nil }
        func refuse(_ reason: String, _ detail: String, key: SignatureKey? = nil) -> AuthenticationFailure {
            AuthenticationFailure(reason: reason, detail: detail, tenantID: key?.tenantID, subject: key?.apiKeyID)
        }
        var inputParser = StructuredFieldValueParser(Array(inputField.utf8))
        var signatureParser = StructuredFieldValueParser(Array((request.headers[.signature] ?? "").utf8))
        guard let inputs = try? inputParser.parseDictionaryFieldValue(), let signatures = try? signatureParser.parseDictionaryFieldValue(),
            inputs.count == 1, let (label, input) = inputs.first, case .innerList(let covered) = input,
            let signatureValue = signatures[label], case .item(let signatureItem) = signatureValue,
            case .undecodedByteSequence(let signatureText) = signatureItem.rfc9651BareItem, let signature = Data(base64Encoded: signatureText)
        else { throw refuse("malformed", "Send one signature: Signature-Input and Signature with the same label (RFC 9421).") }

        let parameters = covered.rfc9651Parameters
        guard case .string(let keyID)? = parameters["keyid"], let (key, material) = try await keys.signatureKey(id: keyID) else {
            throw refuse("unknown_credential", "The signature's keyid names no signing key.")
        }
        if case .string(let algorithm)? = parameters["alg"], algorithm != key.algorithm.name {
            throw refuse("algorithm_not_allowed", "This keyid signs with \(key.algorithm.name).", key: key)
        }
        guard case .integer(let created)? = parameters["created"], abs(Date().timeIntervalSince1970 - Double(created)) <= Self.window else {
            throw refuse("stale", "The signature's created parameter must be within \(Int(Self.window)) s of the server's clock.", key: key)
        }
        if case .integer(let expires)? = parameters["expires"], Double(expires) < Date().timeIntervalSince1970 {
            throw refuse("expired", "The signature has expired.", key: key)
        }
        guard case .string(let nonce)? = parameters["nonce"], !nonce.isEmpty, nonce.utf8.count <= 256 else {
            throw refuse("malformed", "The signature needs a nonce parameter.", key: key)
        }

        var components: [String] = []
        for entry in covered.bareInnerList {
            guard case .string(let name) = entry.rfc9651BareItem, entry.rfc9651Parameters.count == 0 else {
                throw refuse("malformed", "Covered components must be plain names without parameters.", key: key)
            }
            components.append(name)
        }
        let body = try await Self.collectBody(&request, context: context)
        let required = ["@method", "@target-uri"] + (body.readableBytes > 0 ? ["content-digest"] : [])
        if let missing = required.first(where: { !components.contains($0) }) {
            throw refuse("malformed", "The signature must cover \(missing).", key: key)
        }
        if components.contains("content-digest") || request.headers[.contentDigest] != nil {
            guard let digest = request.headers[.contentDigest], Self.digestMatches(digest, body: body) else {
                throw refuse("bad_digest", "Content-Digest is missing or does not match the body (sha-256 or sha-512).", key: key)
            }
        }

        var lines: [String] = []
        for name in components {
            guard let value = componentValue(name, request: request) else {
                throw refuse("malformed", "The covered component \(name) is not in the request or not supported.", key: key)
            }
            lines.append("\"\(name)\": \(value)")
        }
        var serializer = StructuredFieldValueSerializer()
        var single = OrderedMap<String, ItemOrInnerList>()
        single[label] = .innerList(covered)
        let serialized = try serializer.writeDictionaryFieldValue(single)
        lines.append("\"@signature-params\": " + String(decoding: serialized.dropFirst(label.utf8.count + 1), as: UTF8.self))
        let base = Data(lines.joined(separator: "\n").utf8)

        guard try Self.signatureMatches(signature, base: base, key: key, material: material, secrets: secrets) else {
            throw refuse("bad_signature", "The signature does not verify.", key: key)
        }
        // Only a valid signature spends its nonce, so forgeries cannot burn a client's nonces.
        guard try await keys.spendNonce(nonce, keyID: key.id, until: Date().addingTimeInterval(2 * Self.window)) else {
            throw refuse("replayed", "This nonce was used before; sign every request with a new one.", key: key)
        }
        guard let apiKey = try await directory.apiKey(id: key.apiKeyID, tenant: key.tenantID), apiKey.isLive(at: Date()) else {
            throw refuse("revoked", "The API key of this signing key is revoked or expired.", key: key)
        }
        return VerifiedCredential(apiKey, method: .signature)
    }

    /// The value of a derived component or header field, as RFC 9421 §2 defines it.
    private func componentValue(_ name: String, request: Request) -> String? {
        let authority = request.head.authority.map { $0.lowercased() }
        switch name {
        case "@method": return request.method.rawValue
        case "@authority": return authority
        case "@scheme": return scheme
        case "@target-uri": return authority.map { "\(scheme)://\($0)\(request.uri.description)" }
        case "@request-target": return request.uri.description
        case "@path": return request.uri.path
        case "@query": return "?" + (request.uri.query ?? "")
        default:
            guard !name.hasPrefix("@"), let field = HTTPField.Name(name) else { return nil }
            let values = request.headers[values: field]
            return values.isEmpty ? nil : values.map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ", ")
        }
    }

    private static func signatureMatches(_ signature: Data, base: Data, key: SignatureKey, material: String, secrets: SecretBox) throws -> Bool {
        switch key.algorithm {
        case .hmacSHA256:
            let secret = try secrets.open(text: material, scope: SignatureKeyController.secretScope(key.id))
            return HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: base, using: SymmetricKey(data: Data(secret.utf8)))
        default:
            guard let raw = Data(base64Encoded: material), let publicKey = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else { return false }
            return publicKey.isValidSignature(signature, for: base)
        }
    }

    /// Whether every sha-256 and sha-512 member of a Content-Digest matches and one is present.
    static func digestMatches(_ field: String, body: ByteBuffer) -> Bool {
        var parser = StructuredFieldValueParser(Array(field.utf8))
        guard let members = try? parser.parseDictionaryFieldValue() else { return false }
        let bytes = Array(buffer: body)
        var checked = 0
        for (algorithm, value) in members {
            guard case .item(let item) = value, case .undecodedByteSequence(let text) = item.rfc9651BareItem, let expected = Data(base64Encoded: text) else {
                return false
            }
            let actual: Data
            switch algorithm {
            case "sha-256": actual = Data(SHA256.hash(data: bytes))
            case "sha-512": actual = Data(SHA512.hash(data: bytes))
            default: continue
            }
            guard actual == expected else { return false }
            checked += 1
        }
        return checked > 0
    }

    /// Reads the body for the digest and puts it back for the handler.
    private static func collectBody(_ request: inout Request, context: AppRequestContext) async throws -> ByteBuffer {
        let body = try await CollectedBody.collect(request, context: context).bytes
        request.body = .init(buffer: body)
        return body
    }
}

extension HTTPField.Name {
    static let signatureInput = Self("Signature-Input")!
    static let signature = Self("Signature")!
    static let contentDigest = Self("Content-Digest")!
}
