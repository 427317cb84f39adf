import Synchronization

/// The result of one hook invocation or call: a status and the bytes the plugin handed over
/// (a JSON result on `.ok`, else an optional message).
public struct CallOutcome: Sendable, Equatable {
    public var status: PluginStatus
    public var body: [UInt8]

    /// Creates an outcome.
    public init(status: PluginStatus, body: [UInt8] = []) {
        self.status = status
        self.body = body
    }

    /// The body as text.
    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The status with the plugin's message, when it gave one: `unavailable: backend down`.
    public var failureDescription: String { text.isEmpty ? status.name : "\(status.name): \(text)" }
}

/// Calls waiting for their outcome, by id. Whoever finishes a call first — the hook returning, the
/// plugin's `complete`, the timeout — resumes its waiter; later finishes are ignored.
///
/// - Important: Thread-safe; `finish` may be called from any thread, including plugin threads.
final class CallRegistry: Sendable {
    private struct Waiter {
        let owner: ObjectIdentifier
        let continuation: CheckedContinuation<CallOutcome, Never>
    }
    // Guards the next id and the waiting continuations.
    private let state = Mutex<(next: UInt64, waiting: [UInt64: Waiter])>((1, [:]))

    /// A new call id, unique in the process.
    func makeID() -> UInt64 {
        state.withLock { state in
            defer { state.next += 1 }
            return state.next
        }
    }

    /// Registers the waiter of `id`, a call of the instance whose host context is `owner`.
    func register(_ id: UInt64, owner: ObjectIdentifier, _ continuation: CheckedContinuation<CallOutcome, Never>) {
        state.withLock { $0.waiting[id] = Waiter(owner: owner, continuation: continuation) }
    }

    /// Resumes the waiter of `id` with `outcome`. With an `owner`, only a call of that instance is finished,
    /// so a plugin cannot complete another instance's call.
    /// - Returns: whether a waiter was still there (false: the call was already finished).
    @discardableResult
    func finish(_ id: UInt64, _ outcome: CallOutcome, owner: ObjectIdentifier? = nil) -> Bool {
        let waiter = state.withLock { state -> Waiter? in
            guard let waiter = state.waiting[id], owner == nil || waiter.owner == owner else { return nil }
            state.waiting[id] = nil
            return waiter
        }
        guard let waiter else { return false }
        waiter.continuation.resume(returning: outcome)
        return true
    }

    /// Registers call `id` of `owner`, runs `start`, and waits until the call finishes or `timeout` passes
    /// (then it finishes as `.timeout`).
    /// - Parameter alwaysStarts: run `start` even when the deadline passed before the waiter registered
    ///   (work that must happen, such as a destroy); otherwise the call is not started then.
    func wait(_ id: UInt64, owner: ObjectIdentifier, timeout: Duration, alwaysStarts: Bool = false, start: @escaping @Sendable () -> Void) async -> CallOutcome {
        let timedOut = CallOutcome(status: .timeout, body: Array("the plugin did not answer within \(timeout)".utf8))
        let deadline = CallDeadline()
        return await withTaskGroup(of: CallOutcome?.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    deadline.register(id, owner: owner, in: self, continuation, start: start, orResume: timedOut, alwaysStarts: alwaysStarts)
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                if !Task.isCancelled { deadline.pass(finishing: id, in: self, with: timedOut) }
                return nil
            }
            for await outcome in group {
                if let outcome {
                    group.cancelAll()
                    return outcome
                }
            }
            return CallOutcome(status: .internal)
        }
    }

    /// Finishes every waiting call of `owner` with `outcome`.
    func failAll(_ outcome: CallOutcome, owner: ObjectIdentifier) {
        let waiters = state.withLock { state -> [Waiter] in
            let mine = state.waiting.filter { $0.value.owner == owner }
            for id in mine.keys { state.waiting[id] = nil }
            return Array(mine.values)
        }
        for waiter in waiters { waiter.continuation.resume(returning: outcome) }
    }

}

/// The deadline of one call, shared by its waiter and its timer. The timer can fire before the waiter's
/// task registered (a starved thread pool can hold that task past the deadline): finding no waiter, it
/// would finish nothing, and a waiter registered afterwards would wait for a hook that may never return.
final class CallDeadline: Sendable {
    // Whether the deadline passed; registering happens under it, so a waiter is either registered before
    // the timer finishes it or sees the deadline passed.
    private let hasPassed = Mutex(false)

    /// Registers the waiter of call `id` and runs `start`; once the deadline passed, resumes the waiter
    /// with `timedOut` instead, without starting the call unless it `alwaysStarts`.
    func register(
        _ id: UInt64,
        owner: ObjectIdentifier,
        in registry: CallRegistry,
        _ continuation: CheckedContinuation<CallOutcome, Never>,
        start: () -> Void,
        orResume timedOut: CallOutcome,
        alwaysStarts: Bool = false
    ) {
        let isRegistered = hasPassed.withLock { passed -> Bool in
            if !passed { registry.register(id, owner: owner, continuation) }
            return !passed
        }
        if isRegistered || alwaysStarts { start() }
        if !isRegistered { continuation.resume(returning: timedOut) }
    }

    /// Marks the deadline passed, then finishes call `id` with `timedOut` if its waiter is registered.
    /// - Returns: whether a waiter was there to finish.
    @discardableResult
    func pass(finishing id: UInt64, in registry: CallRegistry, with timedOut: CallOutcome) -> Bool {
        hasPassed.withLock { $0 = true }
        return registry.finish(id, timedOut)
    }
}
