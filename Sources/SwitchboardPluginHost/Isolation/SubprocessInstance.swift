import Foundation
import Logging
import Metrics
import Synchronization
import SwitchboardCore

/// A tenant's plugin instance running in a supervised `switchboard plugin-host` child process.
///
/// Every hook becomes a frame to the child and waits at most the manifest's call timeout. When the child
/// crashes, exits or overruns a timeout (it is then killed), the calls in flight fail with a clear error,
/// and the child is started again with exponential backoff and re-created with the latest config; calls
/// meanwhile fail fast as unavailable. Host services the child asks for are checked and performed here,
/// with this instance's tenant and plugin, so a child can never act for another tenant.
package final class SubprocessInstance: PluginRunner {
    /// How the child is started and restarted.
    package struct Launch: Sendable {
        /// The `switchboard` executable that has the `plugin-host` command.
        var executable: String
        var restartBase: Duration = .milliseconds(100)
        var restartMax: Duration = .seconds(30)
        /// Where restarts are counted (`sb_plugin_restarts_total{plugin}`).
        var metrics: (any MetricsFactory)?
        /// Where a restart waits its delay and runs.
        var tasks: TaskPool

        package init(
            executable: String,
            restartBase: Duration = .milliseconds(100),
            restartMax: Duration = .seconds(30),
            metrics: (any MetricsFactory)? = nil,
            tasks: TaskPool
        ) {
            self.executable = executable
            self.restartBase = restartBase
            self.restartMax = restartMax
            self.metrics = metrics
            self.tasks = tasks
        }
    }

    let library: PluginLibrary
    let context: HostContext
    private let tenant: String
    private let launch: Launch
    private let calls = CallRegistry()
    private let local: any PluginServices
    /// Where the child's store requests wait, one after the other: a child flooding them takes one
    /// thread of the server, not one per request.
    private let storeRequests = DispatchQueue(label: "switchboard.plugin.store")
    // Guards the running child, the config it must be created with, restart bookkeeping and shutdown.
    private let state = Mutex<State>(State())
    // Guards the event batches in flight, by frame id, which the child's progress frames fill.
    private let batches = Mutex<[UInt64: EventBatchProgress]>([:])

    private struct State {
        var child: Child?
        var config: [UInt8] = []
        var failures = 0
        var isDestroyed = false
        var lastExit = ""
    }

    /// A running child process and its channel.
    private final class Child: Sendable {
        let process: SpawnedProcess
        let channel: FrameChannel
        let ready = Mutex(false)

        init(process: SpawnedProcess, channel: FrameChannel) {
            self.process = process
            self.channel = channel
        }
    }

    var manifest: PluginManifest { library.manifest }
    var logger: Logger { context.logger }

    private init(library: PluginLibrary, context: HostContext, tenant: String, launch: Launch, local: any PluginServices) {
        self.library = library
        self.context = context
        self.tenant = tenant
        self.launch = launch
        self.local = local
    }

    /// Starts the child and creates the instance in it.
    /// - Throws: ``PluginCallError`` when the child cannot start or the plugin refuses the config.
    package static func create(library: PluginLibrary, tenant: String, config: [UInt8], environment: PluginEnvironment, launch: Launch) async throws -> SubprocessInstance {
        let context = HostContext(manifest: library.manifest, tenantID: tenant, environment: environment)
        let instance = SubprocessInstance(library: library, context: context, tenant: tenant, launch: launch, local: environment.services)
        instance.state.withLock { $0.config = config }
        let outcome = await instance.start()
        guard outcome.status == .ok else {
            await instance.destroy()
            throw PluginCallError(status: outcome.status, message: outcome.text)
        }
        return instance
    }

    // MARK: - Hooks

    func reconfigure(config: [UInt8]) async throws -> Bool {
        let outcome = await send(.reconfigure, parts: [config])
        if outcome.status == .unsupported { return false }
        guard outcome.status == .ok else { throw PluginCallError(status: outcome.status, message: outcome.text) }
        state.withLock { $0.config = config }
        return true
    }

    package func deliver(events: [[UInt8]]) async -> [CallOutcome] {
        guard let child = readyChild() else { return [unavailable()] }
        let batch = EventBatchProgress()
        let id = calls.makeID()
        batches.withLock { $0[id] = batch }
        defer { batches.withLock { $0[id] = nil } }
        let calls = calls
        await batch.wait(id: id, registry: calls, owner: ObjectIdentifier(self), timeout: manifest.callTimeout) {
            if !child.channel.send(PluginFrame(kind: .events, id: id, parts: events)) {
                calls.finish(id, CallOutcome(status: .unavailable, body: Array("the plugin process is gone".utf8)))
            }
        }
        if batch.outcomes.last?.status == .timeout, child.process.isRunning { kill(child.process.processIdentifier, SIGKILL) }
        return batch.outcomes
    }
    package func call(op: String, args: [UInt8]) async -> CallOutcome { await send(.call, parts: [Array(op.utf8), args]) }
    func health() async -> CallOutcome { await send(.health, parts: []) }

    @discardableResult
    package func destroy() async -> Bool {
        let child = state.withLock { state -> Child? in
            state.isDestroyed = true
            defer { state.child = nil }
            return state.child
        }
        guard let child else { return true }
        let outcome = await exchange(child, PluginFrame(kind: .destroy, id: calls.makeID()))
        child.process.terminate()
        return outcome.status == .ok
    }

    // MARK: - The child

    /// Sends a hook frame to a ready child and waits for its result.
    private func send(_ kind: PluginFrame.Kind, parts: [[UInt8]]) async -> CallOutcome {
        guard let child = readyChild() else { return unavailable() }
        return await exchange(child, PluginFrame(kind: kind, id: calls.makeID(), parts: parts))
    }

    private func readyChild() -> Child? {
        guard let child = state.withLock({ $0.child }), child.ready.withLock({ $0 }) else { return nil }
        return child
    }

    private func unavailable() -> CallOutcome {
        let reason = state.withLock { $0.lastExit }
        return CallOutcome(status: .unavailable, body: Array("the plugin process is restarting\(reason.isEmpty ? "" : " after it \(reason)")".utf8))
    }

    /// Sends `frame` and waits for the result with the same id, or the call timeout (then the child is killed).
    private func exchange(_ child: Child, _ frame: PluginFrame) async -> CallOutcome {
        let calls = calls
        let outcome = await calls.wait(frame.id, owner: ObjectIdentifier(self), timeout: manifest.callTimeout) {
            if !child.channel.send(frame) {
                calls.finish(frame.id, CallOutcome(status: .unavailable, body: Array("the plugin process is gone".utf8)))
            }
        }
        if outcome.status == .timeout, child.process.isRunning {
            kill(child.process.processIdentifier, SIGKILL)
        }
        return outcome
    }

    /// Starts a child and creates the instance in it with the current config.
    private func start() async -> CallOutcome {
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: launch.executable)
        process.arguments = ["plugin-host", library.path]
        var environment = ProcessInfo.processInfo.environment
        // A crashing child should die at once; the Swift runtime's backtracer would hold it for seconds.
        environment["SWIFT_BACKTRACE"] = "enable=no"
        process.environment = environment
        let toChild = Pipe()
        let fromChild = Pipe()
        process.standardInput = toChild
        process.standardOutput = fromChild
        do {
            try process.run()
        } catch {
            return CallOutcome(status: .unavailable, body: Array("cannot start \(launch.executable): \(error)".utf8))
        }
        let child = Child(
            process: process,
            channel: FrameChannel(input: fromChild.fileHandleForReading.fileDescriptor, output: toChild.fileHandleForWriting.fileDescriptor)
        )
        let isCurrent = state.withLock { state -> Bool in
            guard !state.isDestroyed else { return false }
            state.child = child
            return true
        }
        guard isCurrent else {
            process.terminate()
            return CallOutcome(status: .unavailable, body: Array("the instance was destroyed".utf8))
        }
        let pipes = (toChild, fromChild)
        Thread.detachNewThread { [self] in
            withExtendedLifetime(pipes) { read(child) }
        }
        let config = state.withLock { $0.config }
        let outcome = await exchange(child, PluginFrame(kind: .create, id: calls.makeID(), parts: [Array(tenant.utf8), config]))
        if outcome.status == .ok { child.ready.withLock { $0 = true } }
        return outcome
    }

    /// The child's reader thread: results finish calls, service requests are performed; at the end of
    /// its output the child is gone, its calls fail and a restart is scheduled.
    private func read(_ child: Child) {
        while let frame = child.channel.receive() {
            switch frame.kind {
            case .result:
                let outcome = CallOutcome(status: PluginStatus(code: frame.code), body: frame.part(0))
                // A child that completes hooks is healthy again: the next crash restarts it quickly.
                if outcome.status == .ok, child.ready.withLock({ $0 }) { state.withLock { $0.failures = 0 } }
                calls.finish(frame.id, outcome, owner: ObjectIdentifier(self))
            case .progress:
                batches.withLock { $0[frame.id] }?.append(CallOutcome(status: PluginStatus(code: frame.code)))
            case .service:
                serve(frame, on: child.channel)
            default:
                logger.warning("Plugin process sent an unexpected frame", metadata: ["sb.kind": "\(frame.kind.rawValue)"])
            }
        }
        child.process.waitUntilExit()
        let exit =
            child.process.terminationReason == .uncaughtSignal
            ? "was killed by signal \(child.process.terminationStatus)" : "exited with status \(child.process.terminationStatus)"
        calls.failAll(CallOutcome(status: .unavailable, body: Array("the plugin process \(exit)".utf8)), owner: ObjectIdentifier(self))
        let failures = state.withLock { state -> Int? in
            guard state.child === child else { return nil }
            state.child = nil
            state.lastExit = exit
            guard !state.isDestroyed else { return nil }
            state.failures += 1
            return state.failures
        }
        guard let failures else { return }
        logger.warning("Plugin process ended; restarting", metadata: ["sb.exit": .string(exit), "sb.attempt": "\(failures)"])
        if let metrics = launch.metrics { Counter(label: "sb_plugin_restarts_total", dimensions: [("plugin", library.manifest.id)], factory: metrics).increment() }
        let delay = min(launch.restartBase * (1 << min(failures - 1, 20)), launch.restartMax)
        launch.tasks.start { [self] in
            // A pool that ends (the server stops) cancels the wait, and the child stays down.
            guard (try? await Task.sleep(for: delay)) != nil else { return }
            let outcome = await start()
            if outcome.status != .ok {
                logger.warning("Plugin process restart failed", metadata: ["sb.status": .string(outcome.status.name), "sb.detail": .string(outcome.text)])
            }
        }
    }

    /// Performs a service request of the child with this instance's context, then answers it.
    private func serve(_ frame: PluginFrame, on channel: FrameChannel) {
        guard let service = PluginFrame.ServiceKind(rawValue: frame.code) else {
            channel.send(PluginFrame(kind: .serviceReply, id: frame.id, code: Int64(PluginStatus.invalid.code)))
            return
        }
        let context = context
        let local = local
        // A reply to a child that is gone has nobody to read it.
        let reply = { @Sendable (status: PluginStatus, parts: [[UInt8]]) in
            _ = channel.send(PluginFrame(kind: .serviceReply, id: frame.id, code: Int64(status.code), parts: parts))
        }
        switch service {
        case .log:
            local.log(context, level: Logger.Level(rawValue: frame.text(0)) ?? .info, message: frame.text(1))
        case .metric:
            local.metric(context, name: frame.text(0), value: Double(bitPattern: frame.number(1)), isHistogram: frame.part(2) == [1])
        case .http:
            let request = PluginHTTPRequest(
                method: frame.text(0),
                url: frame.text(1),
                headers: frame.part(2),
                body: frame.part(3),
                timeoutMilliseconds: UInt32(truncatingIfNeeded: frame.number(4))
            )
            let status = local.http(context, request) { outcome in
                let headers = (try? SwitchboardJSON.encode(outcome.headers)) ?? []
                reply(outcome.status, [Array(littleEndian: UInt64(outcome.code)), headers, outcome.body])
            }
            if status != .pending { reply(status, []) }
        case .kvGet, .kvPut, .kvDelete, .emit:
            // These wait for the store; run them off the reader thread so results keep flowing.
            storeRequests.async {
                switch service {
                case .kvGet:
                    let (status, value) = local.kvGet(context, key: frame.text(0))
                    reply(status, value.map { [$0.bytes, Array(littleEndian: $0.version)] } ?? [])
                case .kvPut:
                    let (status, version) = local.kvPut(context, key: frame.text(0), bytes: frame.part(1), expected: ExpectedVersion(raw: frame.number(2)))
                    reply(status, [Array(littleEndian: version)])
                case .kvDelete:
                    reply(local.kvDelete(context, key: frame.text(0), expected: ExpectedVersion(raw: frame.number(1))), [])
                default:
                    reply(local.emit(context, name: frame.text(0), data: frame.part(1)), [])
                }
            }
        }
    }
}
