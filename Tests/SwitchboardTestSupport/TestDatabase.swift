import Foundation
import Logging
import SwitchboardCore
import SwitchboardPostgres
import SwitchboardStore
import Synchronization

/// The database engines the store and server tests run against.
public enum TestBackend: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite
    case postgres

    public var description: String { rawValue }

    /// The engine the server's route tests use in this run: `SB_TEST_DATABASE=postgres` picks
    /// PostgreSQL (`scripts/test` runs them once on each), else SQLite.
    public static let current: TestBackend = ProcessInfo.processInfo.environment["SB_TEST_DATABASE"] == "postgres" ? .postgres : .sqlite

    /// Settings for a new, empty database of this engine: a file in a new temporary folder, or a new
    /// database in the test run's PostgreSQL cluster.
    public func freshDatabase() throws -> DatabaseSettings {
        switch self {
        case .sqlite:
            return DatabaseSettings(path: temporaryDatabasePath())
        case .postgres:
            var settings = DatabaseSettings(path: temporaryDatabasePath())
            settings.url = try PostgresTestCluster.shared().createDatabase()
            // A hundred tests run at once on one cluster: a few connections each.
            settings.poolSize = 3
            return settings
        }
    }
}

/// A path for a SQLite file in a new temporary folder.
public func temporaryDatabasePath() -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-tests-\(UUID().uuidString)")
    return directory.appendingPathComponent("test.sqlite").path
}

/// A failure of a test's own setup (a missing program, a server that did not start), with what to do.
public struct TestSetupError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) { self.description = description }
}

/// A free loopback port for a program a test starts: one that binds, picked at random below the
/// kernel's ephemeral range (32768 and up), so that no server binding port 0 meanwhile can take it
/// between this check and the program's own bind.
public func freeLoopbackPort() throws -> Int {
    for _ in 0..<1_000 {
        let port = Int.random(in: 20_000..<30_000)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        if bound { return port }
    }
    throw TestSetupError("no free port from 20000 to 29999")
}

/// A throwaway PostgreSQL 15 cluster for one test run: `initdb` into a temporary folder, `pg_ctl start`
/// on a free loopback port (as the `postgres` user when the tests run as root: PostgreSQL refuses
/// root), each test its own database. Stopped, and its folder removed, when the test process exits.
///
/// - Important: Thread-safe: the one cluster is made under a lock.
public final class PostgresTestCluster: Sendable {
    /// The Debian package that has `initdb` and `pg_ctl`.
    public static let package = "postgresql-15"
    static let binaries = "/usr/lib/postgresql/15/bin"

    public let port: Int
    public let directory: String
    private let databases = Atomic<Int>(0)

    private static let cluster = Mutex<Result<PostgresTestCluster, TestSetupError>?>(nil)

    /// The run's cluster, started at the first call.
    /// - Throws: `TestSetupError` naming the package to install when PostgreSQL 15 is missing, or
    ///   what failed when the cluster did not start.
    public static func shared() throws -> PostgresTestCluster {
        try cluster.withLock { cluster in
            if let made = cluster { return try made.get() }
            let made = Result { try PostgresTestCluster() }.mapError { $0 as? TestSetupError ?? TestSetupError("\($0)") }
            cluster = made
            atexit { PostgresTestCluster.stopAtExit() }
            return try made.get()
        }
    }

    private static func stopAtExit() {
        guard case .success(let cluster) = Self.cluster.withLock({ $0 }) else { return }
        cluster.stop()
    }

    /// Stops the cluster at once and removes its folder.
    public func stop() {
        try? pgCtl(["stop", "-m", "immediate", "-w", "-t", "20"])
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A cluster of its own, for a test that restarts it; the caller stops it.
    public init() throws {
        guard FileManager.default.isExecutableFile(atPath: "\(Self.binaries)/initdb"), FileManager.default.isExecutableFile(atPath: "/usr/bin/psql") else {
            throw TestSetupError("PostgreSQL 15 is not installed: apt-get install \(Self.package)")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-pg-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        if getuid() == 0 {
            guard let user = getpwnam("postgres") else { throw TestSetupError("no user 'postgres' to run PostgreSQL as: apt-get install \(Self.package)") }
            guard chown(directory, user.pointee.pw_uid, user.pointee.pw_gid) == 0 else { throw TestSetupError("cannot give \(directory) to postgres") }
        }
        self.directory = directory
        self.port = try freeLoopbackPort()
        try Self.runAsPostgres(
            "\(Self.binaries)/initdb",
            ["-D", "\(directory)/data", "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"]
        )
        try pgCtl([
            "start", "-w", "-t", "60", "-l", "\(directory)/server.log", "-o",
            "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=1000",
        ])
    }

    /// A new, empty database; returns its URL.
    public func createDatabase() throws -> String {
        let name = "sb_\(getpid())_\(databases.add(1, ordering: .relaxed).newValue)"
        try psql("CREATE DATABASE \(name)")
        return url(database: name)
    }

    /// The URL of a database of the cluster.
    public func url(database: String) -> String { "postgres://postgres@127.0.0.1:\(port)/\(database)" }

    /// Runs one SQL statement with `psql` as the superuser.
    public func psql(_ sql: String, database: String = "postgres") throws {
        try Self.run("/usr/bin/psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", "\(port)", "-U", "postgres", "-d", database, "-c", sql])
    }

    /// Runs `pg_ctl` on the cluster (`restart -m immediate`, `stop`, `start`), waiting for it.
    public func pgCtl(_ arguments: [String]) throws {
        try Self.runAsPostgres("\(Self.binaries)/pg_ctl", ["-D", "\(directory)/data"] + arguments)
    }

    private static func runAsPostgres(_ program: String, _ arguments: [String]) throws {
        if getuid() == 0 {
            try run("/usr/sbin/runuser", ["-u", "postgres", "--", program] + arguments)
        } else {
            try run(program, arguments)
        }
    }

    private static func run(_ program: String, _ arguments: [String]) throws {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-pg-output-\(UUID().uuidString)").path
        FileManager.default.createFile(atPath: output, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: output) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        try? handle.close()
        guard process.terminationStatus == 0 else {
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            throw TestSetupError("\((program as NSString).lastPathComponent) \(arguments.joined(separator: " ")) failed: \(text.suffix(2_000))")
        }
    }
}

/// Opens (creating and migrating) the store `settings` name: PostgreSQL when it has a URL, else SQLite.
public func openTestStore(_ settings: DatabaseSettings, logger: Logger) throws -> SQLStore {
    if settings.url != nil { return try PostgresStore.open(settings, logger: logger) }
    return try SQLStore(sqlite: settings, logger: logger)
}
