import Foundation
import SwitchboardCore

extension SQLStore: TokenIssuerStore {
    public func createTokenIssuer(_ issuer: TokenIssuer, sealedSecret: String?) async throws {
        try await writeSettings { db in
            guard try db.queryFirst("SELECT 1 FROM tenants WHERE id = ?", [.text(issuer.tenantID)], { _ in true }) != nil else {
                throw SwitchboardError.notFound("tenant")
            }
            guard
                try db.queryFirst("SELECT 1 FROM token_issuers WHERE issuer = ? AND audience = ?", [.text(issuer.issuer), .text(issuer.audience)], { _ in true })
                    == nil
            else {
                throw SwitchboardError(
                    kind: .conflict,
                    code: "issuer_taken",
                    detail: "This issuer with this audience is registered already: tokens must name an audience of their tenant's own.",
                    field: "audience"
                )
            }
            try db.run(
                """
                INSERT INTO token_issuers (id, tenant_id, issuer, audience, kind, secret, url, algorithms, default_role, created_at, client_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    .text(issuer.id), .text(issuer.tenantID), .text(issuer.issuer), .text(issuer.audience), .text(issuer.kind.name),
                    sealedSecret.map { .text($0) } ?? .null, issuer.url.map { .text($0) } ?? .null,
                    .text(issuer.algorithms.joined(separator: " ")), .text(issuer.defaultRole.name), SQLValue(issuer.createdAt),
                    issuer.clientID.map { .text($0) } ?? .null,
                ]
            )
        }
    }

    public func tokenIssuers(tenant: String) async throws -> [TokenIssuer] {
        try await read { db in
            try db.query("SELECT \(Self.issuerColumns) FROM token_issuers WHERE tenant_id = ? ORDER BY id", [.text(tenant)]) { try Self.issuerRow($0).issuer }
        }
    }

    public func tokenIssuers(issuer: String) async throws -> [(issuer: TokenIssuer, sealedSecret: String?)] {
        try await read { db in try db.query("SELECT \(Self.issuerColumns) FROM token_issuers WHERE issuer = ? ORDER BY id", [.text(issuer)], Self.issuerRow) }
    }

    public func deleteTokenIssuer(id: String, tenant: String) async throws -> TokenIssuer {
        try await writeSettings { db in
            guard
                let found = try db.queryFirst(
                    "SELECT \(Self.issuerColumns) FROM token_issuers WHERE tenant_id = ? AND id = ?",
                    [.text(tenant), .text(id)],
                    Self.issuerRow
                )
            else { throw SwitchboardError.notFound("token_issuer") }
            try db.run("DELETE FROM token_issuers WHERE id = ?", [.text(id)])
            return found.issuer
        }
    }

    private static let issuerColumns = "id, tenant_id, issuer, audience, kind, secret, url, algorithms, default_role, created_at, client_id"

    private static func issuerRow(_ row: SQLRow) throws -> (issuer: TokenIssuer, sealedSecret: String?) {
        guard let kind = TokenIssuer.Kind(named: row.text(4)), let role = Role(named: row.text(8)) else {
            throw SQLiteError(code: 0, message: "token_issuers row \(row.text(0)) has an unknown kind or role")
        }
        let issuer = TokenIssuer(
            id: row.text(0),
            tenantID: row.text(1),
            issuer: row.text(2),
            audience: row.text(3),
            kind: kind,
            url: row.optionalText(6),
            clientID: row.optionalText(10),
            algorithms: row.text(7).split(separator: " ").map(String.init),
            defaultRole: role,
            createdAt: row.date(9)
        )
        return (issuer, row.optionalText(5))
    }
}
