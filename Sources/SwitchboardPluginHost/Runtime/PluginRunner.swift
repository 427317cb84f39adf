import Logging

/// A live instance of a plugin for one tenant, wherever its code runs: in the server process
/// (``PluginInstance``) or in a supervised child process (``SubprocessInstance``).
protocol PluginRunner: Sendable {
    var manifest: PluginManifest { get }
    /// The logger tagged with the plugin and the tenant.
    var logger: Logger { get }
    /// Applies a new configuration in place; false when the plugin needs a new instance instead.
    func reconfigure(config: [UInt8]) async throws -> Bool
    /// Delivers event envelopes in order, stopping after the first one the plugin does not acknowledge.
    /// - Returns: the outcomes of the events handled.
    func deliver(events: [[UInt8]]) async -> [CallOutcome]
    func call(op: String, args: [UInt8]) async -> CallOutcome
    func health() async -> CallOutcome
    /// Lets calls in flight finish, then destroys the instance; false when that could not finish in time.
    @discardableResult func destroy() async -> Bool
}

extension PluginInstance: PluginRunner {
    func deliver(events: [[UInt8]]) async -> [CallOutcome] { await deliver(events: events, progress: nil) }
    var manifest: PluginManifest { library.manifest }
    var logger: Logger { context.logger }
}
