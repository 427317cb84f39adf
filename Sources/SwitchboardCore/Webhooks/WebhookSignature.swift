import Crypto
import Foundation

/// Standard Webhooks signing: `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`
/// with secrets written `whsec_<base64 key>`, so any Standard Webhooks library verifies our calls.
public enum WebhookSignature {
    /// The secret prefix of the specification.
    public static let secretPrefix = "whsec_"

    /// A new secret: 32 random bytes.
    public static func makeSecret() -> String {
        secretPrefix + Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
    }

    /// The key bytes of a `whsec_` secret (the prefix is optional, as in the reference libraries).
    public static func key(of secret: String) -> [UInt8]? {
        let encoded = secret.hasPrefix(secretPrefix) ? String(secret.dropFirst(secretPrefix.count)) : secret
        return Data(base64Encoded: encoded).map(Array.init)
    }

    /// The `v1,` signature of a message.
    public static func sign(id: String, timestamp: Int64, body: [UInt8], secret: String) -> String? {
        guard let key = key(of: secret) else { return nil }
        var content = Array("\(id).\(timestamp).".utf8)
        content.append(contentsOf: body)
        let mac = HMAC<SHA256>.authenticationCode(for: content, using: SymmetricKey(data: key))
        return "v1," + Data(mac).base64EncodedString()
    }

    /// Whether any `v1` signature in a space-separated `webhook-signature` header matches.
    public static func verify(header: String, id: String, timestamp: Int64, body: [UInt8], secret: String) -> Bool {
        guard let expected = sign(id: id, timestamp: timestamp, body: body, secret: secret) else { return false }
        return header.split(separator: " ").contains { candidate in
            candidate.utf8.count == expected.utf8.count && zip(candidate.utf8, expected.utf8).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
        }
    }
}
