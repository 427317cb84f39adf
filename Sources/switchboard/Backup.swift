import ArgumentParser
import Foundation
import SwitchboardServer

/// A backup is a folder: `switchboard.sqlite`, a consistent copy taken while the server runs, and
/// `secret.key`, the key that opens its sealed secrets (unless the key is in the configuration).
enum BackupFolder {
    static let database = "switchboard.sqlite"
    static let key = "secret.key"
}

struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy the database (consistent, while the server runs) and its secret key into a new folder."
    )

    @OptionGroup var options: ConfigOptions
    @Option(name: .long, help: "The folder to create for the backup; it must not exist.") var to: String

    func run() async throws {
        let configuration = try options.load()
        let manager = FileManager.default
        guard !manager.fileExists(atPath: to) else { throw ValidationError("'\(to)' exists; a backup goes into a new folder.") }
        try manager.createDirectory(atPath: to, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let copy = (to as NSString).appendingPathComponent(BackupFolder.database)
        do {
            try StoreFactory.backup(configuration.database, to: copy)
            try StoreFactory.check(copy: copy)
        } catch {
            throw ValidationError("The backup failed: \(error)")
        }
        guard let key = configuration.secrets.keyFilePath(databasePath: configuration.database.path) else {
            print("Backed up \(configuration.database.path) to \(to). The secret key is in your configuration (secrets.key): keep it with the backup.")
            return
        }
        guard manager.fileExists(atPath: key) else {
            print("Backed up \(configuration.database.path) to \(to). There is no secret key file (\(key)) yet: nothing is sealed.")
            return
        }
        let keyCopy = (to as NSString).appendingPathComponent(BackupFolder.key)
        try manager.copyItem(atPath: key, toPath: keyCopy)
        try manager.setAttributes([.posixPermissions: 0o600], ofItemAtPath: keyCopy)
        print("Backed up \(configuration.database.path) and its secret key to \(to).")
    }
}

struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a backup folder and put it in place of the database; the server must be stopped."
    )

    @OptionGroup var options: ConfigOptions
    @Option(name: .long, help: "A folder written by 'switchboard backup'.") var from: String
    @Flag(name: .long, help: "Replace an existing database (it is kept beside, renamed) and secret key.") var force = false

    func run() async throws {
        let configuration = try options.load()
        let manager = FileManager.default
        let copy = (from as NSString).appendingPathComponent(BackupFolder.database)
        let keyCopy = (from as NSString).appendingPathComponent(BackupFolder.key)
        let keyPath = configuration.secrets.keyFilePath(databasePath: configuration.database.path)
        if let keyPath, manager.fileExists(atPath: keyCopy), manager.fileExists(atPath: keyPath), !force,
            manager.contents(atPath: keyPath) != manager.contents(atPath: keyCopy)
        {
            throw ValidationError("\(keyPath) holds another key than the backup's; pass --force to replace it.")
        }
        // The key is staged before the database is swapped, and the old key is kept beside, renamed,
        // like the old database: the kept database's secrets open only with it.
        let stagedKey = keyPath.map { $0 + ".restoring" }
        if let stagedKey, manager.fileExists(atPath: keyCopy) {
            try? manager.removeItem(atPath: stagedKey)
            try manager.copyItem(atPath: keyCopy, toPath: stagedKey)
            try manager.setAttributes([.posixPermissions: 0o600], ofItemAtPath: stagedKey)
        }
        do {
            try StoreFactory.restore(configuration.database, from: copy, replacing: force)
        } catch {
            if let stagedKey { try? manager.removeItem(atPath: stagedKey) }
            throw ValidationError("Not restored: \(error)")
        }
        if let keyPath, let stagedKey, manager.fileExists(atPath: stagedKey) {
            if manager.fileExists(atPath: keyPath) {
                try manager.moveItem(atPath: keyPath, toPath: keyPath + ".before-restore-\(Int(Date().timeIntervalSince1970))")
            }
            guard rename(stagedKey, keyPath) == 0 else { throw ValidationError("The database is restored, but its key could not be moved to \(keyPath) from \(stagedKey).") }
        }
        print("Restored \(configuration.database.path) from \(from).")
    }
}
