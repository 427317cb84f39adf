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
            The configuration (--config) is the PostgreSQL deployment's: its secrets.key_file (or the \
            secret.key beside its database.path) receives the key that seals the copied secrets, unless \
            it is the source's already. The copy ends by comparing every table's rows and each tenant's \
            last seq; it exits non-zero when one differs.
            """
    )

    @OptionGroup var options: ConfigOptions
    @Option(name: .long, help: "The database to copy: sqlite:PATH.") var from: String
    @Option(name: .long, help: "An empty PostgreSQL database: postgres://user:password@host:port/database.") var to: String

    func run() async throws {
        let configuration = try options.load()
        guard from.hasPrefix("sqlite:"), from.count > "sqlite:".count else {
            throw ValidationError("--from must be sqlite:PATH, the SQLite file of the deployment to copy.")
        }
        let path = String(from.dropFirst("sqlite:".count))
        guard to.hasPrefix("postgres://") || to.hasPrefix("postgresql://") else {
            throw ValidationError("--to must be a postgres:// URL of an empty database.")
        }
        let key = try SealingKeyMove(secrets: configuration.secrets, source: path, target: configuration.database.path)
        var settings = configuration.database
        settings.url = to
        let line = ProgressLine()
        let started = ContinuousClock.now
        let report: DatabaseCopy.Report
        do {
            report = try StoreFactory.copy(fromSQLite: path, to: settings, logger: Logger(label: "switchboard")) { line.show($0) }
        } catch {
            line.end()
            throw ValidationError("Nothing was copied: \(error)")
        }
        line.end()
        print("table".padding(toLength: 24, withPad: " ", startingAt: 0) + "   sqlite  postgres")
        for row in report.rows {
            print(row.table.padding(toLength: 24, withPad: " ", startingAt: 0) + String(format: " %8lld  %8lld", row.source, row.target) + (row.source == row.target ? "" : "  DIFFERS"))
        }
        for seq in report.lastSeqs where seq.source != seq.target {
            print("tenant \(seq.tenant): last seq \(seq.source) in SQLite, \(seq.target) in PostgreSQL  DIFFERS")
        }
        guard report.matches else { throw ValidationError("The copy differs from its source (see above); do not use it.") }
        let elapsed = (ContinuousClock.now - started).components
        let seconds = String(format: "%.2f", Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18)
        print("Copied \(report.rows.reduce(0) { $0 + $1.target }) rows in \(seconds) s; \(report.lastSeqs.count) tenants' last seqs match.")
        print(try key.move())
    }
}

/// Where the key that seals the source's secrets is, and where the PostgreSQL deployment's servers
/// will look for it; checked before the copy, moved after it.
struct SealingKeyMove {
    let source: String?
    let target: String?

    /// - Throws: when the target's key file exists and holds another key: servers on the copy could not
    ///   open its sealed secrets.
    init(secrets: SwitchboardConfiguration.Secrets, source database: String, target targetDatabase: String) throws {
        source = secrets.keyFilePath(databasePath: database)
        target = secrets.keyFilePath(databasePath: targetDatabase)
        guard let source, let target, source != target, let sourceKey = FileManager.default.contents(atPath: source) else { return }
        if let targetKey = FileManager.default.contents(atPath: target), targetKey != sourceKey {
            throw ValidationError("\(target) holds another key than the source's (\(source)): the copy's sealed secrets would not open with it.")
        }
    }

    /// Copies the key file where the target's servers look for it; says where the key is.
    func move() throws -> String {
        guard let source, let target else { return "The key that seals secrets is in the configuration (secrets.key): give it to every server." }
        let manager = FileManager.default
        guard manager.fileExists(atPath: source) else { return "There is no secret key at \(source): nothing was sealed." }
        if source != target, !manager.fileExists(atPath: target) {
            try manager.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try manager.copyItem(atPath: source, toPath: target)
            try manager.setAttributes([.posixPermissions: 0o600], ofItemAtPath: target)
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
