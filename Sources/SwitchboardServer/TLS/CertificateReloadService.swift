import Dispatch
import Foundation
import Logging
import ServiceLifecycle

/// Reloads the TLS certificate on SIGHUP, until graceful shutdown.
struct CertificateReloadService: Service {
    let certificates: TLSCertificates
    let logger: Logger

    func run() async throws {
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler { [certificates, logger] in
            do {
                try certificates.reload()
                logger.notice("TLS certificate reloaded", metadata: ["sb.certificate": .string(certificates.certificatePath)])
            } catch {
                logger.error("TLS certificate reload failed; the previous certificate stays", metadata: ["sb.error": "\(error)"])
            }
        }
        source.resume()
        try? await gracefulShutdown()
        source.cancel()
    }
}
