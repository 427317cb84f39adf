/// The request-signing keys of API keys.
public protocol SignatureKeyStore: Sendable {
    /// Stores a key with its material: the sealed HMAC secret, or the base64 Ed25519 public key.
    /// - Throws: `api_key_not_found` when the tenant has no such live key.
    func createSignatureKey(_ key: SignatureKey, material: String) async throws
    func signatureKeys(apiKey: String, tenant: String) async throws -> [SignatureKey]
    /// A key of any tenant by its `keyid`, with its material.
    func signatureKey(id: String) async throws -> (key: SignatureKey, material: String)?
    /// - Throws: `signature_key_not_found`.
    func deleteSignatureKey(id: String, apiKey: String, tenant: String) async throws
}
