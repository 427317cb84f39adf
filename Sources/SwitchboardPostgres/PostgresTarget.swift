import Foundation
import NIOSSL
import PostgresNIO
import SwitchboardCore

/// Where a PostgreSQL database is and how to reach it, from `database.url`:
/// `postgres://user:password@host:port/database?sslmode=MODE&sslrootcert=FILE`.
///
/// `sslmode` is `disable` (the default on a loopback host), `require` (encrypted, the certificate not
/// checked) or `verify-full` (the default elsewhere: encrypted, the certificate checked against the
/// system's roots or `sslrootcert`, and the host name).
struct PostgresTarget: Sendable, CustomStringConvertible {
    let host: String
    let port: Int
    let username: String
    let password: String?
    let database: String
    let tls: PostgresConnection.Configuration.TLS

    /// What postgres-nio connects with.
    func configuration(connectTimeout: TimeAmount) -> PostgresConnection.Configuration {
        var configuration = PostgresConnection.Configuration(host: host, port: port, username: username, password: password, database: database, tls: tls)
        configuration.options.connectTimeout = connectTimeout
        return configuration
    }

    /// The host and port, never the password: for logs and messages.
    var description: String { "\(host):\(port)/\(database)" }

    /// Parses a `postgres://` URL.
    /// - Throws: `SwitchboardError` naming what is wrong (never echoing the password).
    init(url text: String) throws {
        func invalid(_ reason: String) -> SwitchboardError {
            SwitchboardError(kind: .invalidInput, code: "invalid_database_url", detail: "database.url: \(reason)")
        }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw invalid("not a URL of the form postgres://user:password@host:port/database")
        }
        guard scheme == "postgres" || scheme == "postgresql" else { throw invalid("the scheme must be postgres://, not \(scheme)://") }
        guard let host = components.host, !host.isEmpty else { throw invalid("no host") }
        guard let user = components.user, !user.isEmpty else { throw invalid("no user name") }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else { throw invalid("no database name after the host") }
        let port = components.port ?? 5432
        guard (1...65_535).contains(port) else { throw invalid("the port must be 1 to 65535") }
        var mode: String?
        var rootCertificate: String?
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode": mode = item.value
            case "sslrootcert": rootCertificate = item.value
            // The name is not echoed: a password with a '?' in it would otherwise be printed in part.
            default: throw invalid("an unknown parameter after '?' (known: sslmode, sslrootcert; a '?' in the password must be written %3F)")
            }
        }
        let isLoopback = ["127.0.0.1", "::1", "localhost"].contains(host)
        switch mode ?? (isLoopback ? "disable" : "verify-full") {
        case "disable":
            guard rootCertificate == nil else { throw invalid("sslrootcert needs sslmode=verify-full") }
            tls = .disable
        case "require":
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .none
            tls = .require(try NIOSSLContext(configuration: configuration))
        case "verify-full":
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .fullVerification
            if let rootCertificate {
                do {
                    configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(rootCertificate))
                } catch {
                    throw invalid("cannot read the certificates of sslrootcert \(rootCertificate)")
                }
            }
            tls = .require(try NIOSSLContext(configuration: configuration))
        case let other:
            throw invalid("sslmode must be disable, require or verify-full, not \(other)")
        }
        self.host = host
        self.port = port
        self.username = user
        self.password = components.password
        self.database = database
    }
}
