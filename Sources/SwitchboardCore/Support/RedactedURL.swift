/// A URL or request target made fit for a log: credentials a client may put in it are replaced.
///
/// Replaced: the user information (`user:password@`), and the value of every query parameter that
/// is named like a credential (`token`, `access_token`, `key`, `secret`, `password`, …) or whose value
/// starts like one of Switchboard's secrets (`sb_live_`, `sbcs_`, `sbms_`, `sbhs_`, `whsec_`).
public enum RedactedURL {
    /// What a replaced value reads as.
    public static let placeholder = "REDACTED"

    /// Query parameter names, lower-cased, whose values are credentials.
    static let sensitiveNames: Set<String> = [
        "token", "access_token", "id_token", "refresh_token", "api_key", "apikey", "key", "secret", "client_secret", "password",
        "passwd", "pass", "code", "signature", "sig", "auth", "authorization", "session", "jwt",
    ]

    /// Prefixes of the secrets this server makes.
    static let secretPrefixes = [APIKeySecret.prefix, "sbcs_", "sbms_", "sbhs_", "whsec_"]

    /// `text` with credentials replaced; text that is not a URL is treated as a path and query.
    public static func redact(_ text: String) -> String {
        var rest = Substring(text)
        var head = ""
        // A scheme only where `://` comes before any path, query or fragment: a URL inside the query is data.
        let targetStart = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        if let scheme = rest.range(of: "://"), scheme.lowerBound < targetStart {
            head = String(rest[..<scheme.upperBound])
            rest = rest[scheme.upperBound...]
            let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
            if let at = rest[..<authorityEnd].lastIndex(of: "@") {
                head += placeholder + "@"
                rest = rest[rest.index(after: at)...]
            }
        }
        guard let question = rest.firstIndex(of: "?") else { return head + rest }
        let fragmentStart = rest[question...].firstIndex(of: "#") ?? rest.endIndex
        let query = rest[rest.index(after: question)..<fragmentStart].split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { return String(pair) }
            let name = parts[0].lowercased()
            let value = parts[1]
            let isSecret = sensitiveNames.contains(name) || secretPrefixes.contains { value.hasPrefix($0) }
            return isSecret ? "\(parts[0])=\(placeholder)" : String(pair)
        }
        return head + rest[...question] + query.joined(separator: "&") + rest[fragmentStart...]
    }
}
