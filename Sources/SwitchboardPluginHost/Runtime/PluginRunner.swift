import Logging

/// A live instance of a plugin for one tenant, wherever its code runs: in the server process
/// (``PluginInstance``) or in a supervised child process (``SubprocessInstance``).
protocol PluginRunner: Sendable {
    var manifest: PluginManifest { get }
    /// The logger tagged with the plugin and the tenant.
    var logger: Logger { get }
    /// Applies a new configuration in place; false when the plugin needs a new instance instead.
    func reconfigure(config: [UInt8]) async throws -> Bool
    func deliver(event: [UInt8]) async -> CallOutcome
    func call(op: String, args: [UInt8]) async -> CallOutcome
    func health() async -> CallOutcome
    /// Lets calls in flight finish, then destroys the instance; false when that could not finish in time.
    @discardableResult func destroy() async -> Bool
}

extension PluginInstance: PluginRunner {
    var manifest: PluginManifest { library.manifest }
    var logger: Logger { context.logger }
}
