import ArgumentParser
import Foundation

@main
struct Switchboard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchboard",
        abstract: "Customer-service integration server.",
        subcommands: [Serve.self, Migrate.self, Backup.self, Restore.self, Database.self, ClusterCommand.self, Tenants.self, Keys.self, Plugins.self, PluginHostCommand.self]
    )

    /// Runs the command with `SIGPIPE` ignored. Every write to a pipe or socket handles `EPIPE` (a
    /// plugin child and its host write frames to each other), while the signal's default action would
    /// end the whole process once the other side is gone: `plugins bench` died of it at the end of a
    /// subprocess run.
    /// SIGHUP is ignored too: with TLS, `CertificateReloadService` handles it (reloads the certificate);
    /// without, a `systemctl reload` must not end the server.
    static func main() async {
        signal(SIGPIPE, SIG_IGN)
        signal(SIGHUP, SIG_IGN)
        await main(nil)
    }
}
