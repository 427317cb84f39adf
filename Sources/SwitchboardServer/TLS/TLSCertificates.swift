import Logging
import NIOSSL
import Synchronization

/// The server's certificate and key, read from PEM files into a TLS context (TLS 1.2 and 1.3 only)
/// that `reload()` replaces: connections made afterwards use the new certificate, open ones keep theirs.
/// - Important: Thread-safe: the current context sits behind a mutex.
final class TLSCertificates: Sendable {
    let certificatePath: String
    let privateKeyPath: String
    private let context: Mutex<NIOSSLContext>

    /// Loads the files.
    /// - Throws: `ConfigurationError` naming the file that cannot be read or used.
    init(certificatePath: String, privateKeyPath: String) throws {
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
        self.context = Mutex(try Self.makeContext(certificatePath: certificatePath, privateKeyPath: privateKeyPath))
    }

    /// The context new connections use.
    var current: NIOSSLContext { context.withLock { $0 } }

    /// Reads the files again; on failure the current certificate stays.
    func reload() throws {
        let fresh = try Self.makeContext(certificatePath: certificatePath, privateKeyPath: privateKeyPath)
        context.withLock { $0 = fresh }
    }

    private static func makeContext(certificatePath: String, privateKeyPath: String) throws -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        } catch {
            throw ConfigurationError(description: "tls.certificate '\(certificatePath)' is not a readable PEM certificate chain: \(error)")
        }
        do {
            key = try NIOSSLPrivateKey(file: privateKeyPath, format: .pem)
        } catch {
            throw ConfigurationError(description: "tls.private_key '\(privateKeyPath)' is not a readable PEM private key: \(error)")
        }
        guard !chain.isEmpty else { throw ConfigurationError(description: "tls.certificate '\(certificatePath)' holds no certificate.") }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.maximumTLSVersion = .tlsv13
        configuration.applicationProtocols = ["http/1.1"]
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw ConfigurationError(description: "tls.certificate and tls.private_key do not make a TLS context (do they match?): \(error)")
        }
    }
}
