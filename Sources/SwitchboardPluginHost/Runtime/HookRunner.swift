import Dispatch
import Synchronization

extension DispatchQueue {
    /// Runs `work` on a serial queue of its own, so that it never waits behind work that blocks.
    ///
    /// A serial queue targets libdispatch's overcommit pool, which starts a thread whenever none is
    /// free, up to 255 threads in the process. `DispatchQueue.global()` and concurrent queues share a
    /// pool as wide as the cores that adds a thread only when its monitor notices, about once a second,
    /// that its threads are blocked (on Linux, Swift's cooperative pool is that pool too): a plugin hook
    /// that hangs, and keeps its thread for good, would hold up every other plugin's hooks and every
    /// `await` of the process for a second each time.
    static func runOnThreadOfItsOwn(label: String, _ work: @escaping @Sendable () -> Void) {
        DispatchQueue(label: label).async(execute: work)
    }
}

/// Runs one plugin instance's hooks off the event loops and Swift's cooperative pool: one after the
/// other on a serial queue when the manifest asks for serialized calls, otherwise each on a thread of
/// its own (see ``DispatchQueue/runOnThreadOfItsOwn(label:_:)``), and the instance's destroy only once
/// every hook handed over before it has returned.
///
/// A hook still running after its deadline is overdue; it keeps its thread until it returns, perhaps
/// never. While ``overdueLimit`` of an instance's hooks are overdue, the instance takes no new hook, and
/// while ``processOverdueLimit`` hooks of the process are, no instance with an overdue hook takes one:
/// hanging plugins cannot take the threads (255 at most) that the process's other plugins need.
final class HookRunner: Sendable {
    /// Overdue hooks after which an instance takes no new one until one of them returns.
    static let overdueLimit = 4
    /// Overdue hooks of every instance after which only instances without one take new hooks.
    static let processOverdueLimit = 64
    private static let processOverdue = Atomic(0)

    private struct State {
        /// Hooks handed over and not yet returned.
        var running = 0
        /// Those of them whose deadline passed.
        var overdue = 0
        /// The destroy, once asked for: it runs when `running` reaches zero, and no hook is taken after it.
        var last: (@Sendable () -> Void)?
        var isClosed = false
    }

    private let label: String
    private let serial: DispatchQueue?
    private let state = Mutex(State())

    init(label: String, serializesCalls: Bool) {
        self.label = label
        self.serial = serializesCalls ? DispatchQueue(label: label) : nil
    }

    /// One hook run, so that its caller can say when its deadline passed.
    final class Hook: Sendable {
        // Whether the hook returned (or never ran), and whether its deadline passed first.
        fileprivate let progress = Mutex((hasReturned: false, isOverdue: false))
        init() {}

        /// Whether the hook returned, or was refused.
        var hasReturned: Bool { progress.withLock { $0.hasReturned } }
    }

    /// What a refused hook's caller answers.
    static let refusal = CallOutcome(status: .unavailable, body: Array("earlier calls of this integration still run past their deadline".utf8))

    /// Runs `body` (on the serial queue after the hooks before it, or on a thread of its own) as `handle`.
    /// - Returns: false, without running it, after ``runLast(_:)``, while ``overdueLimit`` of the
    ///   instance's hooks are overdue, or while one is and the process has ``processOverdueLimit``.
    @discardableResult
    func run(_ handle: Hook = Hook(), _ body: @escaping @Sendable () -> Void) -> Bool {
        let admitted = state.withLock { state -> Bool in
            guard !state.isClosed, state.overdue < Self.overdueLimit else { return false }
            guard state.overdue == 0 || Self.processOverdue.load(ordering: .relaxed) < Self.processOverdueLimit else { return false }
            state.running += 1
            return true
        }
        guard admitted else {
            handle.progress.withLock { $0.hasReturned = true }
            return false
        }
        let work: @Sendable () -> Void = {
            body()
            let wasOverdue = handle.progress.withLock { progress in
                progress.hasReturned = true
                return progress.isOverdue
            }
            let last = self.state.withLock { state -> (@Sendable () -> Void)? in
                state.running -= 1
                if wasOverdue {
                    state.overdue -= 1
                    Self.processOverdue.subtract(1, ordering: .relaxed)
                }
                guard state.running == 0 else { return nil }
                defer { state.last = nil }
                return state.last
            }
            last?()
        }
        if let serial { serial.async(execute: work) } else { DispatchQueue.runOnThreadOfItsOwn(label: label, work) }
        return true
    }

    /// Counts `hook` as overdue until it returns (nothing when it returned already).
    func deadlinePassed(for hook: Hook) {
        let isOverdue = hook.progress.withLock { progress -> Bool in
            guard !progress.hasReturned, !progress.isOverdue else { return false }
            progress.isOverdue = true
            return true
        }
        if isOverdue {
            state.withLock { $0.overdue += 1 }
            Self.processOverdue.add(1, ordering: .relaxed)
        }
    }

    /// Runs `last` once every hook handed over so far has returned; no hook is taken after it.
    func runLast(_ last: @escaping @Sendable () -> Void) {
        let isIdle = state.withLock { state -> Bool in
            precondition(!state.isClosed, "runLast twice")
            state.isClosed = true
            if state.running > 0 { state.last = last }
            return state.running == 0
        }
        if isIdle { DispatchQueue.runOnThreadOfItsOwn(label: label, last) }
    }
}
