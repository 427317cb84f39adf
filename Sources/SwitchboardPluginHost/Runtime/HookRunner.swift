import Dispatch
import Synchronization

extension DispatchQueue {
    /// Runs `work` on a serial queue of its own, so that it never waits behind work that blocks.
    ///
    /// A serial queue targets libdispatch's overcommit pool, which starts a thread whenever none is
    /// free. `DispatchQueue.global()` and concurrent queues share a pool as wide as the cores that adds
    /// a thread only when its monitor notices, about once a second, that its threads are blocked: a
    /// plugin hook that hangs (and keeps its thread for good) would hold up every other plugin's hooks
    /// and the host's own blocking work (name resolution, store waits) for seconds each time.
    static func runOnThreadOfItsOwn(label: String, _ work: @escaping @Sendable () -> Void) {
        DispatchQueue(label: label).async(execute: work)
    }
}

/// Runs one plugin instance's hooks off the event loops and Swift's cooperative pool: one after the
/// other on a serial queue when the manifest asks for serialized calls, otherwise each on a thread of
/// its own (see ``DispatchQueue/runOnThreadOfItsOwn(label:_:)``), and the instance's destroy only once
/// every hook handed over before it has returned.
final class HookRunner: Sendable {
    private let label: String
    private let serial: DispatchQueue?
    // Hooks handed over and not yet returned, and the work that waits for their count to reach zero.
    private let state = Mutex<(running: Int, whenIdle: (@Sendable () -> Void)?)>((0, nil))

    init(label: String, serializesCalls: Bool) {
        self.label = label
        self.serial = serializesCalls ? DispatchQueue(label: label) : nil
    }

    /// Runs `hook` (on the serial queue after the hooks before it, or on a thread of its own).
    func run(_ hook: @escaping @Sendable () -> Void) {
        state.withLock { $0.running += 1 }
        let work: @Sendable () -> Void = {
            hook()
            let whenIdle = self.state.withLock { state -> (@Sendable () -> Void)? in
                state.running -= 1
                guard state.running == 0 else { return nil }
                defer { state.whenIdle = nil }
                return state.whenIdle
            }
            whenIdle?()
        }
        if let serial { serial.async(execute: work) } else { DispatchQueue.runOnThreadOfItsOwn(label: label, work) }
    }

    /// Runs `last` once every hook handed over so far has returned; nothing may be handed over after it.
    func runLast(_ last: @escaping @Sendable () -> Void) {
        let isIdle = state.withLock { state -> Bool in
            if state.running > 0 { state.whenIdle = last }
            return state.running == 0
        }
        if isIdle { DispatchQueue.runOnThreadOfItsOwn(label: label, last) }
    }
}
