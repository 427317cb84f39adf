import CSwitchboardPlugin
import Synchronization
import SwitchboardCore

/// One tenant's live instance of a plugin: its hooks run by the instance's ``HookRunner`` (one after
/// the other when the manifest asks for serialized calls), never on an event loop or Swift's
/// cooperative pool, and every invocation is bounded by the manifest's call timeout.
package final class PluginInstance: Sendable {
    let library: PluginLibrary
    let context: HostContext
    private let handle: InstanceHandle
    private let runner: HookRunner
    // Guards the count of running or pending invocations, whether the instance takes new ones, and
    // the waiters for the count to reach zero.
    private let activity = Mutex<(running: Int, isClosed: Bool, drained: [CheckedContinuation<Void, Never>])>((0, false, []))

    private init(library: PluginLibrary, context: HostContext, handle: InstanceHandle, runner: HookRunner) {
        self.library = library
        self.context = context
        self.handle = handle
        self.runner = runner
    }

    private var hooks: sb_plugin_api { library.hooks }
    private var calls: CallRegistry { context.environment.calls }

    /// Creates the instance of `library` for `tenant` with a validated, decrypted `config`.
    /// - Throws: ``PluginCallError`` when the plugin refuses, with its message.
    package static func create(library: PluginLibrary, tenant: String, config: [UInt8], environment: PluginEnvironment) async throws -> PluginInstance {
        let context = HostContext(manifest: library.manifest, tenantID: tenant, environment: environment)
        let runner = HookRunner(label: "switchboard.plugin.\(library.manifest.id).\(tenant)", serializesCalls: library.manifest.serializesCalls)
        let hooks = library.hooks
        let result: (PluginStatus, InstanceHandle?, [UInt8]) = await withCheckedContinuation { continuation in
            runner.run {
                var instance: OpaquePointer?
                var error = sb_str(ptr: nil, len: 0)
                let status = tenant.withSBString { tenantText in
                    config.withSBString { configText in PluginStatus(hooks.create(context.pointer, tenantText, configText, &instance, &error)) }
                }
                let message = error.ptr == nil ? [] : HostAPI.takeOver(error)
                continuation.resume(returning: (status, instance.map(InstanceHandle.init), message))
            }
        }
        guard result.0 == .ok, let handle = result.1 else {
            throw PluginCallError(status: result.0 == .ok ? .internal : result.0, message: String(decoding: result.2, as: UTF8.self))
        }
        return PluginInstance(library: library, context: context, handle: handle, runner: runner)
    }

    /// Applies a new configuration in place.
    /// - Returns: false when the plugin cannot (no hook or SB_UNSUPPORTED): destroy and create instead.
    /// - Throws: ``PluginCallError`` when the plugin refuses the configuration.
    func reconfigure(config: [UInt8]) async throws -> Bool {
        guard let reconfigure = hooks.reconfigure else { return false }
        let handle = handle
        let outcome = await invoke { _ in
            var error = sb_str(ptr: nil, len: 0)
            let status = config.withSBString { PluginStatus(reconfigure(handle.pointer, $0, &error)) }
            return CallOutcome(status: status, body: error.ptr == nil ? [] : HostAPI.takeOver(error))
        }
        if outcome.status == .unsupported { return false }
        guard outcome.status == .ok else { throw PluginCallError(status: outcome.status, message: outcome.text) }
        return true
    }

    /// Delivers event envelopes in order in one hook run, stopping after the first
    /// one the plugin does not acknowledge. An event that does not finish within the call timeout ends
    /// the batch as `.timeout`.
    /// - Parameter progress: called with each event's outcome as it arrives.
    /// - Returns: the outcomes of the events handled, in order.
    package func deliver(events: [[UInt8]], progress: (@Sendable (CallOutcome) -> Void)? = nil) async -> [CallOutcome] {
        guard let onEvent = hooks.on_event else { return events.map { _ in CallOutcome(status: .unsupported) } }
        guard enter() else { return [CallOutcome(status: .unavailable, body: Array("the integration is being reconfigured or disabled".utf8))] }
        defer { leave() }
        let handle = handle
        let batch = EventBatchProgress()
        let id = calls.makeID()
        let calls = calls
        let runner = runner
        let hook = HookRunner.Hook()
        let finished = await batch.wait(id: id, registry: calls, owner: ObjectIdentifier(context), timeout: library.manifest.callTimeout) {
            let isRunning = runner.run(hook) {
                for event in events {
                    let outcome = CallOutcome(status: event.withSBString { PluginStatus(onEvent(handle.pointer, $0)) })
                    progress?(outcome)
                    if !batch.append(outcome) { break }
                }
                calls.finish(id, CallOutcome(status: .ok))
            }
            if !isRunning { calls.finish(id, HookRunner.refusal) }
        }
        if finished.status == .timeout { runner.deadlinePassed(for: hook) }
        return batch.outcomes
    }

    /// Calls `on_event` on the calling thread, without queue, timeout or bookkeeping: the baseline of
    /// ``PluginBenchmark``.
    package func deliverDirectly(event: [UInt8]) -> PluginStatus {
        guard let onEvent = hooks.on_event else { return .unsupported }
        return event.withSBString { PluginStatus(onEvent(handle.pointer, $0)) }
    }

    /// Performs `op` with JSON `args`: the plugin answers at once or completes later.
    package func call(op: String, args: [UInt8]) async -> CallOutcome {
        guard let call = hooks.call else { return CallOutcome(status: .unsupported, body: Array("the plugin takes no calls".utf8)) }
        let handle = handle
        return await invoke { id in
            var result = sb_str(ptr: nil, len: 0)
            let status = op.withSBString { opText in args.withSBString { PluginStatus(call(handle.pointer, id, opText, $0, &result)) } }
            return CallOutcome(status: status, body: result.ptr == nil ? [] : HostAPI.takeOver(result))
        }
    }

    /// Asks the plugin how it is.
    func health() async -> CallOutcome {
        guard let health = hooks.health else { return CallOutcome(status: .ok) }
        let handle = handle
        return await invoke { _ in
            var detail = sb_str(ptr: nil, len: 0)
            let status = PluginStatus(health(handle.pointer, &detail))
            return CallOutcome(status: status, body: detail.ptr == nil ? [] : HostAPI.takeOver(detail))
        }
    }

    /// Stops taking invocations, waits for those in flight (each ends by its timeout at the latest), then
    /// destroys the plugin's instance once no hook runs.
    /// - Returns: false when a hook that outlived its timeout still runs after another timeout; the
    ///   destroy then happens whenever it returns.
    @discardableResult
    package func destroy() async -> Bool {
        await withCheckedContinuation { continuation in
            let isIdle = activity.withLock { state in
                state.isClosed = true
                if state.running > 0 { state.drained.append(continuation) }
                return state.running == 0
            }
            if isIdle { continuation.resume() }
        }
        let destroy = hooks.destroy!
        let handle = handle
        let context = context
        let destroyed = CallRegistry()
        let id = destroyed.makeID()
        let outcome = await destroyed.wait(id, owner: ObjectIdentifier(context), timeout: library.manifest.callTimeout, alwaysStarts: true) {
            self.runner.runLast {
                withExtendedLifetime(context) { destroy(handle.pointer) }
                destroyed.finish(id, CallOutcome(status: .ok))
            }
        }
        return outcome.status == .ok
    }

    // MARK: - Invocation

    /// Runs `hook` by the instance's runner with a new call id and waits for its outcome: its return
    /// value, or the plugin's `complete` when it returned SB_PENDING, or a timeout (which cancels it).
    private func invoke(_ hook: @escaping @Sendable (UInt64) -> CallOutcome) async -> CallOutcome {
        guard enter() else { return CallOutcome(status: .unavailable, body: Array("the integration is being reconfigured or disabled".utf8)) }
        defer { leave() }
        let id = calls.makeID()
        let calls = calls
        let runner = runner
        let run = HookRunner.Hook()
        let outcome = await calls.wait(id, owner: ObjectIdentifier(context), timeout: library.manifest.callTimeout) {
            let isRunning = runner.run(run) {
                let outcome = hook(id)
                if outcome.status != .pending { calls.finish(id, outcome) }
            }
            if !isRunning { calls.finish(id, HookRunner.refusal) }
        }
        if outcome.status == .timeout {
            runner.deadlinePassed(for: run)
            if let cancel = hooks.cancel {
                let handle = handle
                runner.run { cancel(handle.pointer, id) }
            }
        }
        return outcome
    }

    /// Counts an invocation in, unless the instance is closing.
    private func enter() -> Bool {
        activity.withLock { state in
            if !state.isClosed { state.running += 1 }
            return !state.isClosed
        }
    }

    private func leave() {
        let waiters = activity.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.running -= 1
            guard state.running == 0 else { return [] }
            defer { state.drained = [] }
            return state.drained
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// Why a plugin refused to create, reconfigure or answer.
public struct PluginCallError: Error, CustomStringConvertible {
    public let status: PluginStatus
    public let message: String
    public var description: String { message.isEmpty ? "the plugin answered \(status)" : "the plugin answered \(status): \(message)" }
}

/// The plugin's instance pointer.
private struct InstanceHandle: @unchecked Sendable {
    // @unchecked: the pointer is only passed back to the plugin, whose header makes the threading rules.
    let pointer: OpaquePointer
}

extension Sequence where Element == UInt8 {
    /// Calls `body` with the bytes as a borrowed `sb_str`.
    func withSBString<Result>(_ body: (sb_str) -> Result) -> Result {
        Array(self).withUnsafeBufferPointer { buffer in
            body(sb_str(ptr: UnsafeRawPointer(buffer.baseAddress)?.assumingMemoryBound(to: CChar.self), len: buffer.count))
        }
    }
}

extension String {
    /// Calls `body` with the UTF-8 text as a borrowed `sb_str`.
    func withSBString<Result>(_ body: (sb_str) -> Result) -> Result {
        Array(utf8).withSBString(body)
    }
}
