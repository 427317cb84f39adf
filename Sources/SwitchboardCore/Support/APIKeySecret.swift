import Crypto
import Foundation

/// Makes and hashes API key secrets (`sb_live_` followed by 32 base62 characters, about 190 bits).
public enum APIKeySecret {
    /// The prefix every secret starts with, so leaked keys are easy to scan for.
    public static let prefix = "sb_live_"
    private static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// A new random secret.
    public static func make() -> String {
        prefix + randomText(count: 32)
    }

    /// `count` random base62 characters (about 5.95 bits each) from the system's secure generator.
    public static func randomText(count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        let body = (0..<count).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] }
        return String(decoding: body, as: UTF8.self)
    }

    /// The stored form of a secret: hex SHA-256. Secrets are random, so no salt or stretching is needed.
    public static func hash(_ secret: String) -> String {
        Hex.encode(SHA256.hash(data: Array(secret.utf8)))
    }

    /// The part of a secret shown in listings.
    public static func displayPrefix(_ secret: String) -> String {
        String(secret.prefix(prefix.count + 4))
    }
}
