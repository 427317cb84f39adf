import Foundation
import SwitchboardCore

extension SQLStore: SignatureKeyStore {
    public func createSignatureKey(_ key: SignatureKey, material: String) async throws {
        try await writeSettings { db in
            guard
                try db.queryFirst(
                    "SELECT 1 FROM api_keys WHERE tenant_id = ? AND id = ? AND revoked_at IS NULL",
                    [.text(key.tenantID), .text(key.apiKeyID)],
                    { _ in true }
                ) != nil
            else { throw SwitchboardError.notFound("api_key") }
            try db.run(
                "INSERT INTO signature_keys (id, tenant_id, api_key_id, algorithm, material, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                [.text(key.id), .text(key.tenantID), .text(key.apiKeyID), .text(key.algorithm.name), .text(material), SQLValue(key.createdAt)]
            )
        }
    }

    public func signatureKeys(apiKey: String, tenant: String) async throws -> [SignatureKey] {
        try await read { db in
            try db.query(
                "SELECT \(Self.signatureKeyColumns) FROM signature_keys WHERE tenant_id = ? AND api_key_id = ? ORDER BY id",
                [.text(tenant), .text(apiKey)]
            ) { try Self.signatureKeyRow($0).key }
        }
    }

    public func signatureKey(id: String) async throws -> (key: SignatureKey, material: String)? {
        try await read { db in try db.queryFirst("SELECT \(Self.signatureKeyColumns) FROM signature_keys WHERE id = ?", [.text(id)], Self.signatureKeyRow) }
    }

    public func deleteSignatureKey(id: String, apiKey: String, tenant: String) async throws {
        try await writeSettings { db in
            let deleted = try db.run(
                "DELETE FROM signature_keys WHERE id = ? AND api_key_id = ? AND tenant_id = ?",
                [.text(id), .text(apiKey), .text(tenant)]
            )
            guard deleted == 1 else { throw SwitchboardError.notFound("signature_key") }
        }
    }

    private static let signatureKeyColumns = "id, tenant_id, api_key_id, algorithm, material, created_at"

    public func spendNonce(_ nonce: String, keyID: String, until expiresAt: Date) async throws -> Bool {
        let now = SQLValue(Date())
        return try await write { db in
            try db.run(
                """
                DELETE FROM signature_nonces WHERE (key_id, nonce) IN (
                    SELECT key_id, nonce FROM signature_nonces WHERE expires_at <= ? ORDER BY expires_at LIMIT 100)
                """,
                [now]
            )
            return try db.run(
                "INSERT INTO signature_nonces (key_id, nonce, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                [.text(keyID), .text(nonce), SQLValue(expiresAt)]
            ) == 1
        }
    }

    private static func signatureKeyRow(_ row: SQLRow) throws -> (key: SignatureKey, material: String) {
        guard let algorithm = SignatureKey.Algorithm(named: row.text(3)) else {
            throw SQLiteError(code: 0, message: "signature_keys row \(row.text(0)) has an unknown algorithm")
        }
        let key = SignatureKey(id: row.text(0), tenantID: row.text(1), apiKeyID: row.text(2), algorithm: algorithm, createdAt: row.date(5))
        return (key, row.text(4))
    }
}
