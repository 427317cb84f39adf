import ArgumentParser
import Foundation
import Logging
import SwitchboardPostgres
import SwitchboardServer

struct Database: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Move a deployment from one database to another.",
        subcommands: [DatabaseCopyCommand.self]
    )
}

struct DatabaseCopyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy a whole SQLite deployment into an empty PostgreSQL database; the server must be stopped.",
        discussion: """
            The configuration (--config) is the PostgreSQL deployment's: without --to, its database.url \
            (or SWITCHBOARD_DATABASE_URL, which keeps the password off the command line) is the target. \
            Its secrets.key, or its secrets.key_file (else the secret.key beside its database.path), must \
            hold the source's key (--from-key, else the secret.key beside the SQLite file); a missing key \
            file is written with it. The copy compares every table's rows and each tenant's last seq \
            before it commits, and rolls back when one differs.
            """
    )

    @OptionGroup var options: ConfigOptions
    @Option(name: .long, help: "The database to copy: sqlite:PATH.") var from: String
    @Option(name: .long, help: "An empty PostgreSQL database: postgres://user:password@host:port/database (default: the configuration's database.url).")
    var to: String?
    @Option(name: .long, help: "The file with the key that seals the source's secrets (default: secret.key beside the SQLite file).")
    var fromKey: String?

    func run() async throws {
        let configuration = try options.load()
        guard from.hasPrefix("sqlite:"), from.count > "sqlite:".count else {
            throw ValidationError("--from must be sqlite:PATH, the SQLite file of the deployment to copy.")
        }
        let path = String(from.dropFirst("sqlite:".count))
        guard let to = to ?? configuration.database.url, to.hasPrefix("postgres://") || to.hasPrefix("postgresql://") else {
            throw ValidationError("--to (or database.url) must be a postgres:// URL of an empty database.")
        }
        let key = try SealingKeyMove(
            secrets: configuration.secrets,
            sourceKey: fromKey ?? ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent("secret.key"),
            targetDatabase: configuration.database.path
        )
        var settings = configuration.database
        settings.url = to
        let line = ProgressLine()
        let started = ContinuousClock.now
        let report: DatabaseCopy.Report
        do {
            report = try StoreFactory.copy(fromSQLite: path, to: settings, logger: Logger(label: "switchboard")) { line.show($0) }
        } catch let differs as DatabaseCopy.Differs {
            line.end()
            Self.show(differs.report)
            throw ValidationError("The copy differed from its source (see above) and was rolled back: nothing was copied.")
        } catch {
            line.end()
            throw ValidationError("Not copied: \(error)")
        }
        line.end()
        Self.show(report)
        let elapsed = (ContinuousClock.now - started).components
        let seconds = String(format: "%.2f", Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18)
        print("Copied \(report.rows.reduce(0) { $0 + $1.target }) rows in \(seconds) s; \(report.lastSeqs.count) tenants' last seqs match.")
        print(try key.move())
    }

    /// Every table's rows on both sides, and the tenants whose last seq differs.
    static func show(_ report: DatabaseCopy.Report) {
        print("table".padding(toLength: 24, withPad: " ", startingAt: 0) + "   sqlite  postgres")
        for row in report.rows {
            print(row.table.padding(toLength: 24, withPad: " ", startingAt: 0) + String(format: " %8lld  %8lld", row.source, row.target) + (row.source == row.target ? "" : "  DIFFERS"))
        }
        for seq in report.lastSeqs where seq.source != seq.target {
            print("tenant \(seq.tenant): last seq \(seq.source) in SQLite, \(seq.target) in PostgreSQL  DIFFERS")
        }
    }
}

/// The key that seals the source's secrets and where the PostgreSQL deployment's servers will find
/// theirs: checked to be the same before the copy, written after it when the target has no key file.
struct SealingKeyMove {
    let sourceKey: String
    let key: String?
    let target: String?

    /// - Throws: when the target's key (its inline `secrets.key` or its key file) is another key than
    ///   the source's: servers on the copy could not open its sealed secrets.
    init(secrets: SwitchboardConfiguration.Secrets, sourceKey: String, targetDatabase: String) throws {
        self.sourceKey = sourceKey
        let read = { (path: String) in FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) } }
        key = read(sourceKey)
        target = secrets.keyFilePath(databasePath: targetDatabase)
        guard let key else { return }
        let targetKey = secrets.key ?? target.flatMap(read)
        if let targetKey, targetKey != key {
            throw ValidationError("The PostgreSQL deployment's key (\(secrets.key == nil ? target ?? "" : "secrets.key")) is another key than the source's (\(sourceKey)): the copy's sealed secrets would not open with it.")
        }
    }

    /// Writes the key where the target's servers look for it, when it is not there yet; says where it is.
    func move() throws -> String {
        guard let key else { return "There is no secret key at \(sourceKey): if the source sealed secrets, pass its key with --from-key." }
        guard let target else { return "The key that seals secrets is the configuration's secrets.key: give it to every server." }
        if !FileManager.default.fileExists(atPath: target) {
            try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            // Created private, never through a link: the key is never readable by others, not even briefly.
            let descriptor = open(target, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else { throw ValidationError("Cannot create \(target) for the secret key.") }
            defer { close(descriptor) }
            let bytes = Array((key + "\n").utf8)
            guard write(descriptor, bytes, bytes.count) == bytes.count, fsync(descriptor) == 0 else { throw ValidationError("Cannot write the secret key to \(target).") }
        }
        return "The key that seals secrets is at \(target): every server on the PostgreSQL database needs it (secrets.key_file)."
    }
}

/// One line of progress on a terminal, rewritten in place at most ten times a second; nothing when
/// standard error is not a terminal.
final class ProgressLine {
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private var lastShown = Date.distantPast
    private var isShowing = false

    func show(_ progress: DatabaseCopy.Progress) {
        guard isTerminal, progress.copied == progress.total || Date().timeIntervalSince(lastShown) >= 0.1 else { return }
        lastShown = Date()
        isShowing = true
        FileHandle.standardError.write(Data("\r\u{1B}[K\(progress.table): \(progress.copied) of \(progress.total) rows".utf8))
    }

    func end() {
        guard isShowing else { return }
        isShowing = false
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
