import Crypto
import Foundation

/// Seals secrets (integration config fields, webhook signing secrets) with AES-256-GCM, so the database
/// never holds them in clear. A sealed field is stored as `{"$sealed": "<base64 nonce|ciphertext|tag>"}`, bound to its tenant,
/// plugin and field path as additional data, so a sealed value copied elsewhere does not open.
public struct SecretBox: Sendable {
    /// What reading a config shows instead of a secret; sending it back keeps the stored secret.
    public static let mask = "********"
    private static let marker = "$sealed"
    private let key: SymmetricKey?

    /// A box with the key given as base64 (32 bytes), or none.
    /// - Throws: ``SecretBoxError`` when the text is not a 256-bit key.
    public init(base64Key: String?) throws(SecretBoxError) {
        guard let base64Key, !base64Key.isEmpty else {
            key = nil
            return
        }
        guard let data = Data(base64Encoded: base64Key), data.count == 32 else {
            throw SecretBoxError(message: "the secret key must be 32 bytes in base64 (e.g. `openssl rand -base64 32`)")
        }
        key = SymmetricKey(data: data)
    }

    /// Whether a key is configured.
    public var hasKey: Bool { key != nil }

    /// `config` with the values at `paths` sealed.
    /// - Throws: ``SecretBoxError`` when a secret is present and no key is configured.
    public func seal(_ config: JSONValue, paths: [[String]], scope: String) throws -> JSONValue {
        try paths.reduce(config) { config, path in
            try config.replacing(at: path) { value in
                let plain = try SwitchboardJSON.encode(value)
                guard let key else { throw SecretBoxError(message: "secrets need secrets.key (SWITCHBOARD_SECRETS_KEY)") }
                let sealed = try AES.GCM.seal(plain, using: key, authenticating: Array("\(scope)/\(path.joined(separator: "."))".utf8))
                return .object([Self.marker: .string(sealed.combined!.base64EncodedString())])
            }
        }
    }

    /// `stored` with its sealed values at `paths` opened.
    /// - Throws: ``SecretBoxError`` when a sealed value cannot be opened (no key, another key, tampering).
    public func open(_ stored: JSONValue, paths: [[String]], scope: String) throws -> JSONValue {
        try paths.reduce(stored) { config, path in
            try config.replacing(at: path) { value in
                guard case .object(let fields) = value, case .string(let text)? = fields[Self.marker] else { return value }
                guard let key else { throw SecretBoxError(message: "sealed secrets exist but no secrets.key (SWITCHBOARD_SECRETS_KEY) is set") }
                do {
                    let box = try AES.GCM.SealedBox(combined: Data(base64Encoded: text) ?? Data())
                    let plain = try AES.GCM.open(box, using: key, authenticating: Array("\(scope)/\(path.joined(separator: "."))".utf8))
                    return try JSONValue(parsing: plain)
                } catch {
                    throw SecretBoxError(message: "a sealed secret does not open with the configured secrets.key")
                }
            }
        }
    }

    /// `config` with the values at `paths` replaced by ``mask``.
    public static func masked(_ config: JSONValue, paths: [[String]]) -> JSONValue {
        paths.reduce(config) { config, path in config.replacing(at: path) { _ in .string(mask) } }
    }

    /// `config` where every secret still equal to ``mask``, or left out, takes its value from `previous`
    /// (a config PUT replaces the config whole, but a stored secret stays unless the PUT sets it, or
    /// sets it to null).
    ///
    /// A stored secret never follows a changed destination: when any URL in the config (a string with
    /// a scheme and a host, outside the secrets) differs from `previous`, masked secrets are refused
    /// and must be given again, or a config change could send the stored token to another host.
    /// - Throws: `secret_required` naming the first masked secret in that case.
    public static func keepingMaskedSecrets(_ config: JSONValue, previous: JSONValue?, paths: [[String]]) throws -> JSONValue {
        let masked = paths.filter { path in
            (config.value(at: path) == .string(mask) || (config.value(at: path) == nil && Self.parentExists(path, in: config)))
                && previous?.value(at: path) != nil
        }
        if let first = masked.first, let previous, destinations(of: config, secrets: paths) != destinations(of: previous, secrets: paths) {
            let field = (["config"] + first).joined(separator: ".")
            throw SwitchboardError(
                kind: .invalidInput,
                code: "secret_required",
                detail: "A URL of the config changed: give '\(field)' again; a stored secret is never sent to a new destination.",
                field: field
            )
        }
        return masked.reduce(config) { config, path in
            guard let old = previous?.value(at: path) else { return config }
            return config.setting(old, at: path)
        }
    }

    /// Whether the object that would hold `path`'s last key exists in `config`.
    private static func parentExists(_ path: [String], in config: JSONValue) -> Bool {
        if case .object? = config.value(at: Array(path.dropLast())) { return true }
        return false
    }

    /// Every string of `config` outside the secret `paths` that names a destination, by its path: a URL
    /// with a host, or any text with `://` in it (a list of URLs, such as LDAP's space- or
    /// comma-separated servers).
    static func destinations(of config: JSONValue, secrets paths: [[String]]) -> [String: String] {
        var found: [String: String] = [:]
        func walk(_ value: JSONValue, _ path: [String]) {
            switch value {
            case .string(let text) where !paths.contains(path):
                if text.contains("://") || URL(string: text).map({ $0.scheme != nil && $0.host?.isEmpty == false }) == true {
                    found[path.joined(separator: "\u{0}")] = text
                }
            case .object(let fields):
                for (name, child) in fields { walk(child, path + [name]) }
            case .array(let items):
                for (index, item) in items.enumerated() { walk(item, path + [String(index)]) }
            default:
                break
            }
        }
        walk(config, [])
        return found
    }

    /// `text` sealed as a string, bound to `scope`.
    public func seal(text: String, scope: String) throws -> String {
        guard case .object(let fields) = try seal(.string(text), paths: [[]], scope: scope), case .string(let sealed)? = fields[Self.marker] else {
            throw SecretBoxError(message: "cannot seal")
        }
        return sealed
    }

    /// The text of ``seal(text:scope:)``.
    public func open(text sealed: String, scope: String) throws -> String {
        guard case .string(let text) = try open(.object([Self.marker: .string(sealed)]), paths: [[]], scope: scope) else {
            throw SecretBoxError(message: "a sealed secret does not open with the configured secrets.key")
        }
        return text
    }

    /// Whether `stored` holds any sealed value.
    public static func containsSealed(_ stored: JSONValue) -> Bool {
        switch stored {
        case .object(let fields): fields[marker] != nil || fields.values.contains(where: containsSealed)
        case .array(let items): items.contains(where: containsSealed)
        default: false
        }
    }
}

/// A secret that cannot be sealed or opened.
public struct SecretBoxError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

extension JSONValue {
    /// The value at an object path, or nil.
    public func value(at path: [String]) -> JSONValue? {
        guard let first = path.first else { return self }
        guard case .object(let fields) = self, let child = fields[first] else { return nil }
        return child.value(at: Array(path.dropFirst()))
    }

    /// A copy with `value` at `path`, whose parent object must exist; the key is added when absent.
    public func setting(_ value: JSONValue, at path: [String]) -> JSONValue {
        guard let first = path.first else { return value }
        guard case .object(var fields) = self else { return self }
        fields[first] = path.count == 1 ? value : (fields[first] ?? .null).setting(value, at: Array(path.dropFirst()))
        return .object(fields)
    }

    /// A copy with the value at `path` (when present) replaced by `transform` of it.
    public func replacing(at path: [String], _ transform: (JSONValue) throws -> JSONValue) rethrows -> JSONValue {
        guard let first = path.first else { return try transform(self) }
        guard case .object(var fields) = self, let child = fields[first] else { return self }
        fields[first] = try child.replacing(at: Array(path.dropFirst()), transform)
        return .object(fields)
    }
}
