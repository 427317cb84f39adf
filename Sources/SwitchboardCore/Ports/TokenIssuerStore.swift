/// The identity providers tenants accept tokens from.
public protocol TokenIssuerStore: Sendable {
    /// Stores an issuer with its sealed secret: the HS256 key, or the introspection client's secret.
    /// - Throws: `tenant_not_found`; `issuer_taken` (409) when this `iss` with this `audience` is registered.
    func createTokenIssuer(_ issuer: TokenIssuer, sealedSecret: String?) async throws
    func tokenIssuers(tenant: String) async throws -> [TokenIssuer]
    /// The issuers with this `iss`, of every tenant that registered it, with their sealed secrets.
    func tokenIssuers(issuer: String) async throws -> [(issuer: TokenIssuer, sealedSecret: String?)]
    /// - Throws: `token_issuer_not_found`.
    func deleteTokenIssuer(id: String, tenant: String) async throws -> TokenIssuer
}
