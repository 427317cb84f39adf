import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import SwitchboardCore
import SwitchboardPluginHost

/// Directory credentials checked by the tenant's enabled `auth_provider` plugins through their
/// `auth.verify` call, after every built-in method declined: `Authorization: Basic` with the user id
/// `<tenant id>/<username>`, so the tenant is named by the credential itself.
///
/// `auth.verify` gets `{"username", "password", "client_ip"}` and answers `{"subject", "role"?,
/// "scopes"?}` (OK) or DENIED / NOT_FOUND for credentials it refuses. Plugins are asked in id order;
/// the first OK wins. A success is cached for `cache`'s lifetime, so a directory is not asked on
/// every request.
struct PluginAuthVerifier: CredentialVerifier {
    let integrations: IntegrationManager
    /// Verified credentials by the SHA-256 of tenant, username and password.
    let cache: ExpiringCache<SHA256Digest, VerifiedCredential>

    func verify(_ request: inout Request, context: AppRequestContext) async throws -> VerifiedCredential? {
        guard let (user, password) = BasicCredentials.parse(request.headers) else { return nil }
        guard let slash = user.firstIndex(of: "/"), TimeOrderedIDGenerator.isWellFormed(String(user[..<slash])) else {
            throw AuthenticationFailure(reason: "malformed", detail: "Basic credentials name the tenant: '<tenant id>/<username>'.")
        }
        let tenant = String(user[..<slash])
        let username = String(user[user.index(after: slash)...])
        let digest = SHA256.hash(data: Array("\(tenant)\n\(username)\n\(password)".utf8))
        if let cached = await cache.value(digest, load: { nil }) { return cached }

        let plugins = await integrations.runningPlugins(tenant: tenant, capability: .authProvider)
        guard !plugins.isEmpty else {
            throw AuthenticationFailure(reason: "no_auth_provider", detail: "This tenant has no directory sign-in enabled.", tenantID: tenant, subject: username)
        }
        let address = context.clientAddress.map(IPAddressRange.format) ?? ""
        let args: JSONValue = ["username": .string(username), "password": .string(password), "client_ip": .string(address)]
        var unavailable = false
        var unknownEverywhere = true
        for plugin in plugins {
            guard let outcome = try? await integrations.call(tenant: tenant, plugin: plugin, op: "auth.verify", args: args) else {
                unavailable = true
                continue
            }
            switch outcome.status {
            case .ok:
                let verified = try Self.credential(outcome.body, tenant: tenant, plugin: plugin)
                _ = await cache.value(digest) { verified }
                return verified
            case .notFound:
                continue
            case .denied:
                unknownEverywhere = false
            default:
                unavailable = true
            }
        }
        if unavailable {
            throw SwitchboardError(kind: .unavailable, code: "auth_provider_unavailable", detail: "The directory cannot check credentials now; retry.")
        }
        // The client is not told whether the user exists; the audit log is.
        throw AuthenticationFailure(
            reason: unknownEverywhere ? "unknown_user" : "denied",
            detail: "The directory refused these credentials.",
            tenantID: tenant,
            subject: username
        )
    }

    /// The principal a plugin's answer describes, capped by its role.
    private static func credential(_ body: [UInt8], tenant: String, plugin: String) throws -> VerifiedCredential {
        struct Answer: Decodable {
            var subject: String
            var role: String?
            var scopes: [String]?
        }
        guard let answer = try? SwitchboardJSON.decode(Answer.self, from: body), !answer.subject.isEmpty,
            let role = answer.role.map(Role.init(named:)) ?? .agent
        else {
            throw SwitchboardError(kind: .unavailable, code: "auth_provider_invalid", detail: "The directory plugin '\(plugin)' answered an invalid principal.")
        }
        var scopes = try answer.scopes.map { Set(try $0.map { try Scope.parse($0) }) } ?? role.defaultScopes
        if let maximum = role.maximumScopes { scopes.formIntersection(maximum) }
        return VerifiedCredential(principal: Principal(tenantID: tenant, subject: answer.subject, role: role, scopes: scopes, method: .plugin))
    }
}

/// `Authorization: Basic` credentials (RFC 7617), each part form-decoded as RFC 6749 §2.3.1 asks of
/// OAuth clients (harmless for other users of Basic).
enum BasicCredentials {
    static func parse(_ headers: HTTPFields) -> (user: String, password: String)? {
        guard let value = headers[.authorization], value.lowercased().hasPrefix("basic "),
            let data = Data(base64Encoded: String(value.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
            let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
        else { return nil }
        return (formDecode(text[..<colon]), formDecode(text[text.index(after: colon)...]))
    }

    /// Decodes `application/x-www-form-urlencoded` text.
    static func formDecode(_ text: Substring) -> String {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(text)
    }
}
