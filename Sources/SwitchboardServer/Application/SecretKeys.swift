import Foundation
import SwitchboardCore

extension SwitchboardConfiguration.Secrets {
    /// The file that holds the key, or nil when the key is given in the configuration itself.
    public func keyFilePath(databasePath: String) -> String? {
        guard key == nil else { return nil }
        return keyFile ?? ((databasePath as NSString).deletingLastPathComponent as NSString).appendingPathComponent("secret.key")
    }

    /// The box that seals stored secrets: with `key`, or with the key in `keyFile` (default `secret.key`
    /// beside the database), which is created with mode 0600 on first start.
    /// - Throws: `ConfigurationError` for a key that is not 32 bytes of base64, or an unreadable key file.
    func makeBox(databasePath: String) throws -> SecretBox {
        if let key {
            do { return try SecretBox(base64Key: key) } catch { throw ConfigurationError(description: "secrets.key: \(error.message)") }
        }
        let path = keyFilePath(databasePath: databasePath) ?? ""
        let manager = FileManager.default
        if !manager.fileExists(atPath: path) {
            try? manager.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let key = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString() + "\n"
            guard manager.createFile(atPath: path, contents: Data(key.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw ConfigurationError(description: "Cannot create the secret key file '\(path)'; set secrets.key or secrets.key_file.")
            }
        }
        guard let contents = manager.contents(atPath: path) else {
            throw ConfigurationError(description: "Cannot read the secret key file '\(path)'.")
        }
        do {
            return try SecretBox(base64Key: String(decoding: contents, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        } catch {
            throw ConfigurationError(description: "\(path): \(error.message)")
        }
    }
}
