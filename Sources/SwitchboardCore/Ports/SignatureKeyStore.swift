import Foundation

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
    /// Spends the nonce of a verified signed request, remembered in the database (so a replay to any
    /// server of the deployment is refused) until `expiresAt`; false when it was spent before and has
    /// not expired. Also forgets some expired nonces, so the table stays small.
    func spendNonce(_ nonce: String, keyID: String, until expiresAt: Date) async throws -> Bool
}
