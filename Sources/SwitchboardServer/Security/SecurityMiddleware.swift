import Foundation
import HTTPTypes
import Hummingbird
import SwitchboardCore

/// The security envelope of the REST API, in order: client address → per-address limit →
/// authentication (each verifier in turn; failures limited per address) → tenant and credential
/// IP allow-lists → per-credential and per-tenant limits. Route scopes are checked by `DocumentedRoutes`.
///
/// Every response behind it carries `RateLimit-Policy` and `RateLimit` headers; refusals are audited.
struct SecurityMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let verifiers: [any CredentialVerifier]
    let directory: any TenantDirectory
    let tenantSecurity: ExpiringCache<String, TenantSecurity>
    let limiter: RateLimiter
    let configuration: SwitchboardConfiguration.Security
    let audit: AuditRecorder

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.clientAddress = ClientAddress.resolve(peer: context.remoteAddress, headers: request.headers, trustedProxies: configuration.trustedProxies)
        let address = context.clientAddress.map(IPAddressRange.format) ?? "unknown"
        var decisions: [RateLimiter.Decision] = []
        if configuration.addressRateLimit > 0 {
            decisions.append(limiter.spend("address:" + address, .perMinute("address", configuration.addressRateLimit)))
        }
        try refuseIfLimited(decisions, context: context, tenantID: nil)

        let verified = try await authenticate(request, context: context, address: address)
        context.principal = verified.principal
        context.logger[metadataKey: "sb.tenant"] = .string(verified.principal.tenantID)
        let tenant = try tenantSecurity.value(verified.principal.tenantID) { try directory.tenantSecurity(tenant: verified.principal.tenantID) }
            ?? TenantSecurity()

        for (list, scope) in [(tenant.allowedIPs, "tenant"), (verified.allowedIPs, "credential")] where !list.permits(context.clientAddress) {
            audit.submit(.accessDenied, context: context, tenantID: verified.principal.tenantID, detail: ["reason": "address_not_allowed", "allow_list": scope])
            throw Problem.addressNotAllowed
        }

        if let limit = verified.rateLimit ?? nonZero(configuration.credentialRateLimit) {
            decisions.append(limiter.spend("credential:" + verified.principal.subject, .perMinute("credential", limit)))
        }
        if let limit = tenant.rateLimit ?? nonZero(configuration.tenantRateLimit) {
            decisions.append(limiter.spend("tenant:" + verified.principal.tenantID, .perMinute("tenant", limit)))
        }
        try refuseIfLimited(decisions, context: context, tenantID: verified.principal.tenantID)

        do {
            var response = try await next(request, context)
            Self.addHeaders(decisions, to: &response.headers)
            return response
        } catch {
            var problem = ProblemMiddleware<Context>.problem(for: error, logger: context.logger)
            Self.addHeaders(decisions, to: &problem.headers)
            throw problem
        }
    }

    /// The first verifier's answer; a refused credential counts against the address's failure limit,
    /// and an address over that limit is not even checked.
    private func authenticate(_ request: Request, context: Context, address: String) async throws -> VerifiedCredential {
        let failures = RateLimiter.Policy.perMinute("failed_authentication", configuration.failedAuthenticationLimit)
        let standing = limiter.peek("failures:" + address, failures)
        guard standing.isAllowed else { throw Problem.rateLimited(standing, code: "too_many_failed_authentications") }
        do {
            for verifier in verifiers {
                if let verified = try await verifier.verify(request, context: context) { return verified }
            }
        } catch let failure as AuthenticationFailure {
            _ = limiter.spend("failures:" + address, failures)
            audit.submit(.authFailed, context: context, tenantID: failure.tenantID, actor: failure.subject, detail: ["reason": failure.reason])
            throw Problem.unauthenticated(failure.detail)
        }
        throw Problem.unauthenticated
    }

    private func refuseIfLimited(_ decisions: [RateLimiter.Decision], context: Context, tenantID: String?) throws {
        guard let refused = decisions.first(where: { !$0.isAllowed }) else { return }
        if refused.isFirstRefusal {
            audit.submit(.rateLimited, context: context, tenantID: tenantID, detail: ["policy": refused.policy.name, "quota": String(refused.policy.quota)])
        }
        var problem = Problem.rateLimited(refused)
        Self.addHeaders(decisions, to: &problem.headers)
        throw problem
    }

    private func nonZero(_ limit: Int) -> Int? {
        limit > 0 ? limit : nil
    }

    /// `RateLimit-Policy` lists every policy applied; `RateLimit` reports the one with the least left.
    private static func addHeaders(_ decisions: [RateLimiter.Decision], to headers: inout HTTPFields) {
        guard let tightest = decisions.min(by: { $0.remaining < $1.remaining }) else { return }
        headers[.rateLimitPolicy] = decisions.map(\.policy.headerItem).joined(separator: ", ")
        headers[.rateLimit] = tightest.headerItem
    }
}

extension HTTPField.Name {
    static let rateLimitPolicy = Self("RateLimit-Policy")!
    static let rateLimit = Self("RateLimit")!
}
