import Foundation
import Hummingbird
import SwitchboardCore

/// `/api/v1/api-keys/{id}/signature-keys`: keys that sign requests as an API key (RFC 9421).
struct SignatureKeyController {
    let store: any SignatureKeyStore
    let directory: any TenantDirectory
    let secrets: SecretBox
    let audit: AuditRecorder

    func addRoutes(to routes: DocumentedRoutes) {
        routes.on(.post, "/api-keys/{id}/signature-keys", scope: .keysManage, body: Body.self, use: create)
        routes.on(.get, "/api-keys/{id}/signature-keys", scope: .keysManage, use: list)
        routes.on(.delete, "/api-keys/{id}/signature-keys/{keyid}", scope: .keysManage, use: delete)
    }

    struct Body: StrictBody {
        var algorithm: String
        var publicKey: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case algorithm
            case publicKey = "public_key"
        }
        static let fields = Set(CodingKeys.allCases.map(\.stringValue))
    }

    /// `hmac-sha256`: the server makes the secret and answers it once. `ed25519`: the client registers
    /// its public key, as base64 of the 32 raw bytes or a PEM SubjectPublicKeyInfo.
    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await CollectedBody.collect(request, context: context).decode(Body.self)
        let apiKey = try await requireAPIKey(context)
        guard let algorithm = SignatureKey.Algorithm(named: body.algorithm) else {
            throw SwitchboardError.invalidField("algorithm", "The algorithm must be one of: \(SignatureKey.Algorithm.all.map(\.name).joined(separator: ", ")).")
        }
        let key = SignatureKey(id: TimeOrderedIDGenerator.shared.make(), tenantID: apiKey.tenantID, apiKeyID: apiKey.id, algorithm: algorithm, createdAt: Date())
        var secret: String?
        let material: String
        switch algorithm {
        case .hmacSHA256:
            guard body.publicKey == nil else { throw SwitchboardError.invalidField("public_key", "An hmac-sha256 key is made by the server; send no public_key.") }
            secret = "sbms_" + APIKeySecret.randomText(count: 43)
            material = try secrets.seal(text: secret!, scope: Self.secretScope(key.id))
        default:
            guard let raw = body.publicKey.flatMap(Self.ed25519PublicKey) else {
                throw SwitchboardError.invalidField("public_key", "An ed25519 key needs public_key: base64 of its 32 bytes, or PEM.")
            }
            material = raw.base64EncodedString()
        }
        try await store.createSignatureKey(key, material: material)
        try await audit.record(.signatureKeyCreated, context: context, target: "api_key:\(apiKey.id)", detail: ["keyid": key.id, "algorithm": algorithm.name])
        if let secret { return try .json(WithSecret(resource: key, secret: secret), status: .created) }
        return try .json(key, status: .created)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        let apiKey = try await requireAPIKey(context)
        return try await .json(ListBody(data: try store.signatureKeys(apiKey: apiKey.id, tenant: apiKey.tenantID), nextCursor: nil, hasMore: false))
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> Response {
        let apiKey = try await requireAPIKey(context)
        let keyID = try context.parameters.require("keyid")
        try await store.deleteSignatureKey(id: keyID, apiKey: apiKey.id, tenant: apiKey.tenantID)
        try await audit.record(.signatureKeyDeleted, context: context, target: "api_key:\(apiKey.id)", detail: ["keyid": keyID])
        return Response(status: .noContent)
    }

    /// The API key of the path, when the caller may act on it: a signing key acts as that key.
    private func requireAPIKey(_ context: AppRequestContext) async throws -> APIKey {
        try await APIKeyController.requireManageableKey(context, in: directory)
    }

    /// The 32 bytes of an Ed25519 public key given raw in base64 or as PEM (the DER ends with them).
    static func ed25519PublicKey(_ text: String) -> Data? {
        let body = text.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        guard let der = Data(base64Encoded: body.trimmingCharacters(in: .whitespacesAndNewlines)) else { return nil }
        let spkiPrefix: [UInt8] = [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00]
        switch der.count {
        case 32: return der
        case 44 where Array(der.prefix(12)) == spkiPrefix: return der.suffix(32)
        default: return nil
        }
    }

    /// The `SecretBox` scope of an HMAC signing secret.
    static func secretScope(_ id: String) -> String { "signature-key:\(id)" }
}
