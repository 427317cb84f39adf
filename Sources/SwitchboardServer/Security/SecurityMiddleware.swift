import Foundation
import HTTPTypes
import Hummingbird
import SwitchboardCore

/// The security envelope of the REST API, in order: client address → per-address limit →
/// authentication (each verifier in turn; failures limited per address) → tenant and credential
/// IP allow-lists → per-credential and per-tenant limits. Route scopes are checked by `DocumentedRoutes`.
///
/// Every response behind it carries `RateLimit-Policy` and `RateLimit` headers; refusals are audited.
package struct SecurityMiddleware: RouterMiddleware {
    package typealias Context = AppRequestContext
    let verifiers: [any CredentialVerifier]
    let directory: any TenantDirectory
    let tenantSecurity: ExpiringCache<String, TenantSecurity>
    let limiter: RateLimiter
    let configuration: SwitchboardConfiguration.Security
    let audit: AuditRecorder
    // The server's default policies, made once; a key's or tenant's own limit makes its own.
    private let addressPolicy: RateLimiter.Policy
    private let credentialPolicy: RateLimiter.Policy
    private let tenantPolicy: RateLimiter.Policy
    /// Failed authentications per address; shared with the OAuth endpoints' client authentication.
    let failurePolicy: RateLimiter.Policy
    /// `RateLimit-Policy` for the usual case, every default policy applied.
    private let defaultPolicies: [RateLimiter.Policy]
    private let defaultPolicyHeader: String

    package init(
        verifiers: [any CredentialVerifier],
        directory: any TenantDirectory,
        tenantSecurity: ExpiringCache<String, TenantSecurity>,
        limiter: RateLimiter,
        configuration: SwitchboardConfiguration.Security,
        audit: AuditRecorder
    ) {
        self.verifiers = verifiers
        self.directory = directory
        self.tenantSecurity = tenantSecurity
        self.limiter = limiter
        self.configuration = configuration
        self.audit = audit
        self.addressPolicy = .perMinute("address", configuration.addressRateLimit)
        self.credentialPolicy = .perMinute("credential", configuration.credentialRateLimit)
        self.tenantPolicy = .perMinute("tenant", configuration.tenantRateLimit)
        self.failurePolicy = .perMinute("failed_authentication", configuration.failedAuthenticationLimit)
        self.defaultPolicies = [(addressPolicy, configuration.addressRateLimit), (credentialPolicy, configuration.credentialRateLimit), (tenantPolicy, configuration.tenantRateLimit)]
            .filter { $0.1 > 0 }.map(\.0)
        self.defaultPolicyHeader = defaultPolicies.map(\.headerItem).joined(separator: ", ")
    }

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.clientAddress = ClientAddress.resolve(peer: context.remoteAddress, headers: request.headers, trustedProxies: configuration.trustedProxies)
        let address = context.clientAddress ?? []
        let now = MonotonicClock.seconds()
        var decisions: [RateLimiter.Decision] = []
        decisions.reserveCapacity(3)
        if configuration.addressRateLimit > 0 {
            decisions.append(limiter.spend(.address(address), addressPolicy, at: now))
        }
        try refuseIfLimited(decisions, context: context, tenantID: nil)

        var request = request
        let verified = try await authenticate(&request, context: context, address: address, now: now)
        context.principal = verified.principal
        context.logger[metadataKey: "sb.tenant"] = .string(verified.principal.tenantID)
        let tenant = try await tenantSecurity.value(verified.principal.tenantID, now: now) { try await directory.tenantSecurity(tenant: verified.principal.tenantID) }
            ?? TenantSecurity()

        for (list, scope) in [(tenant.allowedIPs, "tenant"), (verified.allowedIPs, "credential")] where !list.permits(context.clientAddress) {
            audit.submit(.accessDenied, context: context, tenantID: verified.principal.tenantID, detail: ["reason": "address_not_allowed", "allow_list": scope])
            throw Problem.addressNotAllowed
        }

        if let policy = verified.rateLimit.map({ .perMinute("credential", $0) }) ?? (configuration.credentialRateLimit > 0 ? credentialPolicy : nil) {
            decisions.append(limiter.spend(.credential(tenant: verified.principal.tenantID, subject: verified.principal.subject), policy, at: now))
        }
        if let policy = tenant.rateLimit.map({ .perMinute("tenant", $0) }) ?? (configuration.tenantRateLimit > 0 ? tenantPolicy : nil) {
            decisions.append(limiter.spend(.tenant(verified.principal.tenantID), policy, at: now))
        }
        try refuseIfLimited(decisions, context: context, tenantID: verified.principal.tenantID)

        do {
            var response = try await next(request, context)
            addHeaders(decisions, to: &response.headers)
            return response
        } catch {
            var problem = ProblemMiddleware<Context>.problem(for: error, logger: context.logger)
            addHeaders(decisions, to: &problem.headers)
            throw problem
        }
    }

    /// The first verifier's answer; a refused credential counts against the address's failure limit,
    /// and an address over that limit is not even checked.
    private func authenticate(_ request: inout Request, context: Context, address: [UInt8], now: Double) async throws -> VerifiedCredential {
        let standing = limiter.peek(.failures(address), failurePolicy, at: now)
        guard standing.isAllowed else { throw Problem.rateLimited(standing, code: "too_many_failed_authentications") }
        do {
            for verifier in verifiers {
                if let verified = try await verifier.verify(&request, context: context) { return verified }
            }
        } catch let failure as AuthenticationFailure {
            _ = limiter.spend(.failures(address), failurePolicy, at: now)
            // Nobody is authenticated: the actor stays `anonymous`, and the name the credential claims is only data.
            var detail = ["reason": failure.reason]
            detail["claimed_subject"] = failure.subject
            audit.submit(.authFailed, context: context, tenantID: failure.tenantID, detail: detail)
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
        addHeaders(decisions, to: &problem.headers)
        throw problem
    }

    /// `RateLimit-Policy` lists every policy applied; `RateLimit` reports the one with the least left.
    private func addHeaders(_ decisions: [RateLimiter.Decision], to headers: inout HTTPFields) {
        guard var tightest = decisions.first else { return }
        for decision in decisions.dropFirst() where decision.remaining < tightest.remaining { tightest = decision }
        let policies =
            decisions.count == defaultPolicies.count && zip(decisions, defaultPolicies).allSatisfy({ $0.policy == $1 })
            ? defaultPolicyHeader : decisions.map(\.policy.headerItem).joined(separator: ", ")
        headers.append(HTTPField(name: .rateLimitPolicy, value: policies))
        headers.append(HTTPField(name: .rateLimit, value: tightest.headerItem))
    }
}

extension HTTPField.Name {
    static let rateLimitPolicy = Self("RateLimit-Policy")!
    static let rateLimit = Self("RateLimit")!
}
